def rank(items: list, query: str = "") -> list:
    return sorted(items)


def list_items(limit: int = 20) -> list:
    return list(range(limit))
