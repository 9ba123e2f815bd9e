"""The `PATCH /v2/serverless/{id}` body that turns a remote endpoint into the desired one.

Only changed top-level fields are sent. Each is sent whole (PATCH replaces `env`, `cpu`, lists),
except `gpu`, whose update rules are partial (UpdateEndpointGpuConfig): `pools` and
`excludedTypes` are one selection, so both are restated whenever `pools` is sent (omitting the
exclusions would clear them); an absent CUDA floor is cleared with `""`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def patch_body(
    remote: Mapping[str, Any], desired: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, Any]:
    """The PATCH body for `fields`, given both normalized shapes.

    >>> patch_body({"timeout": 1000}, {"timeout": 30000}, ["timeout"])
    {'timeout': 30000}
    """
    body: dict[str, Any] = {}
    for field in sorted(fields):
        if field == "gpu":
            body["gpu"] = _gpu_patch(remote.get("gpu") or {}, desired["gpu"])
        else:
            body[field] = desired[field]  # `registry: None` clears the credential
    return body


def _gpu_patch(remote: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    gpu: dict[str, Any] = {"pools": desired["pools"], "count": desired["count"]}
    if desired["excludedTypes"]:
        gpu["excludedTypes"] = desired["excludedTypes"]
    gpu["minCudaVersion"] = desired["minCudaVersion"] or ""
    if remote.get("allowedCudaVersions") != desired["allowedCudaVersions"]:
        gpu["allowedCudaVersions"] = desired["allowedCudaVersions"]
    return gpu
