"""One comparable shape for an endpoint, whether it is a create body or RunPod's description.

RunPod fills in defaults for what a create leaves out and adds fields of its own (`id`,
`requestUrls`, `createdAt`, CPU `memory`). `normalize` folds the defaults in and drops the rest,
so the body flashctl would send and the endpoint RunPod returns for it compare equal. Lists
whose order the server does not keep (GPU pools, data centers, volumes) compare as sets:

    >>> body = {"name": "shop-api", "type": "LOAD_BALANCER", "image": "shop:1",
    ...         "scaling": {"type": "REQUEST_COUNT", "requestCount": 4},
    ...         "cpu": [{"id": "cpu5c", "vcpuCount": 2}]}
    >>> remote = {**body, "id": "x7k2", "disk": 5, "args": "", "registry": None,
    ...           "cpu": [{"id": "cpu5c", "vcpuCount": 2, "memory": 4}], "gpu": None,
    ...           "createdAt": "2026-01-01T00:00:00Z"}
    >>> normalize(body) == normalize(remote)
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flashctl.runpod.create_body import PROJECT_ENV

JSONObject = dict[str, Any]

# RunPod's defaults for fields a create may leave out (CreateEndpointRequest, EndpointWorkers).
DEFAULT_DISK_GB = 5
DEFAULT_WORKERS = {"min": 0, "max": 3, "idleTimeout": 10}
DEFAULT_TIMEOUT_MS = 300_000
DEFAULT_FLASHBOOT = "OFF"
# Env the server adds itself; RunPod reserves the prefix for its own variables.
SERVER_ENV_PREFIX = "RUNPOD_"


def normalize(endpoint: Mapping[str, Any]) -> JSONObject:
    """The fields flashctl manages, defaults filled in, in a canonical form (see module doc)."""
    gpu = endpoint.get("gpu")
    return {
        "name": endpoint.get("name", ""),
        "type": endpoint.get("type"),  # None: not reported (never a difference, see `against`)
        "image": endpoint.get("image") or "",
        "args": endpoint.get("args") or "",
        "disk": endpoint.get("disk", DEFAULT_DISK_GB),
        "env": dict(sorted((endpoint.get("env") or {}).items())),
        "ports": list(endpoint.get("ports") or []),
        "registry": endpoint.get("registry") or None,
        "gpu": _gpu(gpu) if gpu else None,
        "cpu": None if gpu else [_cpu(cpu) for cpu in endpoint.get("cpu") or []],
        "workers": {**DEFAULT_WORKERS, **(endpoint.get("workers") or {})},
        "scaling": dict(endpoint.get("scaling") or {}),
        "dataCenterIds": sorted(endpoint.get("dataCenterIds") or []),
        "networkVolumes": sorted(endpoint.get("networkVolumes") or []),
        "timeout": endpoint.get("timeout", DEFAULT_TIMEOUT_MS),
        "flashboot": endpoint.get("flashboot") or DEFAULT_FLASHBOOT,
    }


def against(remote: JSONObject, desired: JSONObject) -> JSONObject:
    """The normalized `remote` as it compares with the normalized `desired`: what the server did
    not report (`type`) and env it added itself (`RUNPOD_*` that `desired` does not set) are
    no difference.

    >>> against({"type": None, "env": {"RUNPOD_ENDPOINT_ID": "x7k2", "A": "1"}},
    ...         {"type": "LOAD_BALANCER", "env": {"A": "1"}})
    {'type': 'LOAD_BALANCER', 'env': {'A': '1'}}
    """
    shape = dict(remote)
    if shape.get("type") is None:
        shape["type"] = desired.get("type")
    wanted = desired.get("env") or {}
    shape["env"] = {
        key: value
        for key, value in (remote.get("env") or {}).items()
        if key in wanted or not key.startswith(SERVER_ENV_PREFIX)
    }
    return shape


def _gpu(gpu: Mapping[str, Any]) -> JSONObject:
    return {
        "pools": sorted(gpu.get("pools") or []),
        "count": gpu.get("count", 1),
        # A set of exclusions; RunPod trims surrounding whitespace.
        "excludedTypes": sorted({str(t).strip() for t in gpu.get("excludedTypes") or []}),
        "minCudaVersion": gpu.get("minCudaVersion") or None,
        "allowedCudaVersions": sorted(gpu.get("allowedCudaVersions") or []),
    }


def _cpu(cpu: Mapping[str, Any]) -> JSONObject:
    return {"id": cpu.get("id"), "vcpuCount": cpu.get("vcpuCount")}  # memory is derived


def fingerprint(endpoint: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the normalized shape, without the env the server adds: equal
    fingerprints, equal managed settings."""
    shape = normalize(endpoint)
    shape["env"] = {k: v for k, v in shape["env"].items() if not k.startswith(SERVER_ENV_PREFIX)}
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def owner(endpoint: Mapping[str, Any]) -> str | None:
    """The project that owns a remote endpoint (its FLASHCTL_PROJECT env), or None."""
    env = endpoint.get("env")
    value = env.get(PROJECT_ENV) if isinstance(env, Mapping) else None
    return value if isinstance(value, str) and value else None


def base_url(endpoint: Mapping[str, Any]) -> str | None:
    """The endpoint's URL (`requestUrls.base` of a load balancer), when RunPod gave one."""
    urls = endpoint.get("requestUrls")
    base = urls.get("base") if isinstance(urls, Mapping) else None
    return base if isinstance(base, str) else None
