def echo(message: str) -> dict:
    return {"message": message}
