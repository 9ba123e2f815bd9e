"""Module-level functions chosen at import time: still attributes of the module."""

import sys

if sys.version_info >= (3, 11):

    def health():
        return {"status": "ok"}

else:

    def health():
        return {"status": "ok", "legacy": True}


try:
    import tomllib

    def parse(text: str) -> dict:
        return tomllib.loads(text)

except ImportError:

    def parse(text: str) -> dict:
        return {}
