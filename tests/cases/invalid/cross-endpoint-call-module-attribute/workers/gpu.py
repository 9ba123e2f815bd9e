async def embed(texts: list) -> dict:
    return {"vectors": [[0.0] for _ in texts]}
