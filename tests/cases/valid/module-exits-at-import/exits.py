"""Importing this module ends the process: validate must parse it, never import it."""

import sys

sys.exit("exits.py was imported: flashctl must never import user code")


def health():
    return {"status": "ok"}
