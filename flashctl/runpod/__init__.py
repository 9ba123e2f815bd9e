"""Talking to RunPod: credentials, the REST v2 client, its retries and its errors.

Nothing is imported here so that `flashctl --version` does not pay for requests;
import the submodule you need (`flashctl.runpod.client`). The local RunPod is `flashctl.emulator`.
"""
