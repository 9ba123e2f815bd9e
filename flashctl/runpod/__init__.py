"""Talking to RunPod: credentials, the REST v2 client and a local emulator of the API.

Nothing is imported here so that `flashctl --version` does not pay for requests or starlette;
import the submodule you need (`flashctl.runpod.client`, `flashctl.runpod.emulator`).
"""
