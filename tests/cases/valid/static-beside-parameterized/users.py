def me():
    return {"id": 0}


def get_user(user_id: int):
    return {"id": user_id}


def delete_user(user_id: int) -> None:
    return None
