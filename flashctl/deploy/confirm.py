"""Asking before a change: a prompt on a terminal, `--yes` otherwise.

Without a terminal there is nobody to answer, so a command that would ask refuses with a usage
error (exit 2) that says to pass `--yes`, instead of hanging or assuming yes.
"""

from __future__ import annotations

import sys

import click

from flashctl.errors import UsageError


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, *, assume_yes: bool, command: str) -> bool:
    """True to go ahead; False when the user said no."""
    if assume_yes:
        return True
    if not stdin_is_tty():
        raise UsageError(
            f"`flashctl {command}` asks before changing RunPod, but stdin is not a terminal; "
            "pass --yes to go ahead without asking."
        )
    return click.confirm(question, default=False, err=True)
