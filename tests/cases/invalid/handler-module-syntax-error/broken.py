def health(:
    return 1
