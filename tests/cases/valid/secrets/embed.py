def embed(texts: list) -> list:
    return [[0.0] for _ in texts]
