"""The render stage: a checked project -> `{path: bytes}` of every build context (`contexts.py`),
the user's source copied in (`source_copy.py`), and `flashctl render` itself (`flows.py`).
"""
