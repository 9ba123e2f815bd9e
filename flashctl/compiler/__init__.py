"""The compile stage: flash.yaml text -> document with positions -> interpolated, overlaid
-> schema-checked -> model -> checks. `pipeline.py` runs the stages in order.
"""
