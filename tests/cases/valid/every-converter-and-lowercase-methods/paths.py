import uuid


def everything(i: int, f: float, u: uuid.UUID, s: str, rest: str):
    return [i, f, str(u), s, rest]


def patch(i: int, *, value: int = 0):
    return {"i": i, "value": value}


def root(body: bytes = b""):
    return len(body)
