"""A local RunPod: the REST v2 serverless API on localhost, for offline deploys, CI and tests.

- `server.py`: start it (`flashctl emulator`, `python -m flashctl.emulator`, `BackgroundEmulator`)
- `app.py`: its HTTP surface, RunPod's routes plus the `/_emulator` test hooks
- `state.py`: the account (endpoints, workers) and the state file
- `schema.py`: RunPod's create and update bodies and its 400 rules
- `catalog.py`: what `GET /v2/catalog/*` serves, from flashctl's one catalog
- `faults.py`: the failures it injects on purpose; `request_log.py`: what it was asked

Import the submodule you need; nothing is imported here, so `flashctl validate` never loads it.
"""
