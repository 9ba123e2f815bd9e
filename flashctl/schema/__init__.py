"""flash.yaml's JSON Schema: the check (`checker.py`), its fast path for valid files
(`predicate.py`) and the generated reference (`reference.py`).
"""
