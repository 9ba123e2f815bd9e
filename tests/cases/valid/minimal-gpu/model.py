"""A text generator stand-in."""


def generate(prompt: str, max_tokens: int = 64) -> dict:
    """Echo the prompt, truncated."""
    return {"text": prompt[:max_tokens]}
