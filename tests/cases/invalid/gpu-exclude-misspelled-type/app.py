"""Handlers for this case: flashctl parses this file, it never imports it."""


def health():
    return {"status": "ok"}


def get_user(user_id: int):
    return {"id": user_id}


def by_id(id: str):
    return {"id": id}


def by_uid(uid: str):
    return {"uid": uid}


def file_by_name(name: str):
    return {"name": name}


def file_by_rest(rest: str):
    return {"rest": rest}


def process(data: dict):
    return data


def upload(body: bytes):
    return {"size": len(body)}


def create(token, /, name=""):
    return {"name": name}


def outer():
    def inner():
        return None

    return inner
