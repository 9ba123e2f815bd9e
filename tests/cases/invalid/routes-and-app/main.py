app = None


def a():
    return 1
