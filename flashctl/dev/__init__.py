"""`flashctl dev`: render to a temp folder and serve it (`flows.py`), several endpoints mounted
under one app (`mount.py`), and what it shows of the server's output (`output.py`).
"""
