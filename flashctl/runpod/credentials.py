"""Where the RunPod API key comes from, and a record of it that never shows the key.

Order: the `RUNPOD_API_KEY` environment variable, then `~/.runpod/config.toml` in either form
the RunPod tools write::

    [default]                # runpod-python (`runpod config`)
    api_key = "..."

    apikey = "..."           # runpodctl (`runpodctl config --apiKey ...`), top level
"""

from __future__ import annotations

import os
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flashctl.errors import DeployError

ENV_VAR = "RUNPOD_API_KEY"
CONFIG_RELATIVE = Path(".runpod") / "config.toml"

HOW_TO_SET = (
    f'set {ENV_VAR}, or write it to ~/.runpod/config.toml as `[default]` `api_key = "..."` '
    '(runpodctl\'s top-level `apikey = "..."` works too); create a key in the RunPod console '
    "under Settings > API Keys"
)


# RFC 6750's b64token: what a bearer token may hold (RunPod's keys: `rpa_` and letters, digits).
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "._~+/-")


@dataclass(frozen=True)
class Credentials:
    """An API key and where it was read from; `repr()` and `str()` never include the key.

    A key that cannot be a bearer token (a line break, a space, a non-ASCII character...) is
    refused here, naming its source, before any header is built from it.
    """

    api_key: str = field(repr=False)
    source: str  # e.g. "RUNPOD_API_KEY" or "/home/me/.runpod/config.toml ([default] api_key)"

    def __post_init__(self) -> None:
        check_api_key(self.api_key, self.source)

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r}, api_key=<redacted>)"

    __str__ = __repr__


def check_api_key(key: str, source: str) -> None:
    """Raise DeployError if `key` cannot be a bearer token; the message never shows the key,
    only where it came from and what is wrong at which character:

        The RunPod API key in RUNPOD_API_KEY is malformed: character 41 is a line break. ...
    """
    if _TOKEN.fullmatch(key):
        return
    bad = next((i for i, char in enumerate(key) if char not in _TOKEN_CHARS), len(key))
    if not key:
        what = "it is empty"
    elif bad < len(key) and key[bad] != "=":
        what = f"character {bad + 1} is {_kind(key[bad])}"
    else:  # `=` is padding: only at the end
        after = next(i for i in range(bad, len(key)) if key[i] != "=")
        what = f"character {after + 1} follows an = sign, which may only end a key"
    raise DeployError(
        f"The RunPod API key in {source} is malformed: {what}. A key holds only letters, digits "
        "and - . _ ~ + / (then = signs); copy it again from the RunPod console under Settings > "
        "API Keys."
    )


def _kind(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char.isspace():
        return "a space" if char == " " else "whitespace"
    if not char.isascii():
        return "a non-ASCII character"
    if not char.isprintable():
        return "a control character"
    return "a character a bearer token cannot hold"


def load_credentials(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Credentials:
    """Find the API key, or raise DeployError saying how to provide one."""
    environ = os.environ if environ is None else environ
    from_env = environ.get(ENV_VAR, "").strip()
    if from_env:
        return Credentials(from_env, ENV_VAR)

    path = (Path.home() if home is None else home) / CONFIG_RELATIVE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeployError(f"No RunPod API key found: {HOW_TO_SET}.") from None
    except OSError as err:
        raise DeployError(f"Could not read {path}: {err.strerror}.") from err

    try:
        document = parse_toml(text)
    except ValueError as err:
        # The parser's message names a line and column, never the file's content.
        raise DeployError(f"{path} is not valid TOML ({err}); {HOW_TO_SET}.") from err

    section = document.get("default")
    if isinstance(section, dict):
        key = section.get("api_key")
        if isinstance(key, str) and key.strip():
            return Credentials(key.strip(), f"{path} ([default] api_key)")
    for name, value in document.items():
        # runpodctl writes through viper, which lower-cases keys; accept `apiKey` as well.
        if name.lower() == "apikey" and isinstance(value, str) and value.strip():
            return Credentials(value.strip(), f"{path} (apikey)")
    raise DeployError(f"{path} has no API key (`[default] api_key` or `apikey`): {HOW_TO_SET}.")


def parse_toml(text: str) -> dict[str, Any]:
    """TOML via tomllib on Python 3.11+, else the minimal reader below (tomli is no dependency)."""
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(str(err)) from None
    return parse_minimal_toml(text)


def parse_minimal_toml(text: str) -> dict[str, Any]:
    """Read the subset of TOML the RunPod tools write: `[table]` headers and `key = "string"`.

    >>> parse_minimal_toml('apikey = "k1"\\n[default]\\napi_key = \\'k2\\'  # comment')
    {'apikey': 'k1', 'default': {'api_key': 'k2'}}

    Other values (numbers, arrays, ...) are kept as their raw text; nothing we read needs them.
    """
    document: dict[str, Any] = {}
    table = document
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and not line.startswith("[["):
            name = line[1 : line.find("]")].strip().strip("\"'")
            if not name or "]" not in line:
                raise ValueError(f"bad table header at line {number}")
            table = document.setdefault(name, {})
            continue
        name, equals, value = line.partition("=")
        if not equals:
            raise ValueError(f"expected `key = value` at line {number}")
        table[name.strip().strip("\"'")] = _minimal_value(value.strip(), number)
    return document


def _minimal_value(value: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        if end < 0:
            raise ValueError(f"unterminated string at line {number}")
        return value[1:end]
    return value.split("#", 1)[0].strip()
