"""`flashctl import-flash`: a flash.yaml from a runpod-flash / tetra-rp project, by parsing it.

`values` reads literal arguments out of the syntax tree, `scan` finds resources and the functions
decorated onto them, `translate` maps them to flash.yaml (collecting what it cannot), and
`command` writes the file and validates it. Nothing in the project is ever imported or run.
"""
