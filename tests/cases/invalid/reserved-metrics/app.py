"""Handlers for this case: flashctl parses this file, it never imports it."""


def health():
    return {"status": "ok"}
