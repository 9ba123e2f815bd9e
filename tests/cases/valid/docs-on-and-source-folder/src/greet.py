def hello(name: str = "world") -> str:
    """Greets someone."""
    return f"hello {name}"
