def health():
    return {"status": "ok"}
