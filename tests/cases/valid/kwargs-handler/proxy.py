def forward(**params):
    """Accepts any path, query or body parameter."""
    return params
