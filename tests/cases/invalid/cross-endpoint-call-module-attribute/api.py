import workers.gpu


async def search(q: str) -> dict:
    return await workers.gpu.embed([q])
