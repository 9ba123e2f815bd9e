"""Deploying a project to RunPod: desired state, plan, apply, status, destroy and invoke.

The flow is `desired.py` (model -> create bodies) and a remote list -> `plan.py` (pure diff) ->
`apply.py` (the API calls). `commands.py` wires them for the CLI; nothing here imports click.
"""
