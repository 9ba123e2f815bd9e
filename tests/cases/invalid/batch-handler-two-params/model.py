"""Handlers for this case: flashctl parses this file, it never imports it."""


def embed(items: list, scale: float):
    return [i * scale for i in items]
