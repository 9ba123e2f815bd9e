"""The one error hierarchy: every user-facing failure is a FlashError that knows its exit code.

The CLI turns a FlashError into a one-line message on stderr and its exit code; anything else is a
bug and keeps its traceback. Third-party errors are wrapped once, where they enter our code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code flashctl gives. Each command's flow returns one; `cli.main` exits once.

    CHANGES shares 2 with USAGE on purpose, as terraform's and kubectl diff's conventions do:
    `plan --detailed-exitcode` says "changes pending" with it.
    """

    OK = 0
    FAILED = 1  # the input or the deployment failed (a FlashError)
    USAGE = 2  # the command line is wrong
    CHANGES = 2  # `plan --detailed-exitcode`: changes pending
    INTERRUPTED = 130  # Ctrl-C, after saying what was and was not done


class FlashError(Exception):
    """A failure the user can act on. `str(err)` is the whole message; no traceback is shown."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(FlashError):
    """The command line itself is wrong (bad option value, missing file argument)."""

    exit_code = ExitCode.USAGE


class InputError(FlashError):
    """flash.yaml (or a file it names) cannot be used; the message names the file and line."""


class RenderError(FlashError):
    """Writing a build context failed; the previous output is left untouched."""


class DeployError(FlashError):
    """The RunPod API (or the emulator) refused a call or could not be reached."""


class ImageError(FlashError):
    """Building or pushing an endpoint's image failed; the message names the endpoint and quotes
    the engine's own error line."""
