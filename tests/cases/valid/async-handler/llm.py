import asyncio

MODEL = None


async def load() -> None:
    global MODEL
    MODEL = "loaded"


async def complete(prompt: str) -> dict:
    await asyncio.sleep(0)
    return {"text": prompt}


async def stream(prompt: str):
    for word in prompt.split():
        yield word
