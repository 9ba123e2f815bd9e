def get_item(item_id: int, verbose: bool = False):
    return {"id": item_id, "verbose": verbose}
