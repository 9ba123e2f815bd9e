from gpu import embed


def normalize(text: str) -> str:
    return text.strip()


async def search(q: str) -> dict:
    return await embed([normalize(q)])
