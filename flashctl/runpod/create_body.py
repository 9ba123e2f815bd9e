"""The RunPod side of an endpoint: the REST v2 create body (design section 8), as plain data.

Used by `render` (endpoint.json) and by `plan`/`apply`, so what is rendered is what is deployed.
Secrets stay references (`{{ RUNPOD_SECRET_name }}`) that RunPod resolves; no value is inlined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flashctl.model import FLASHBOOT, Endpoint, Project

PROJECT_ENV = "FLASHCTL_PROJECT"  # marks the endpoints a project owns (destroy, --prune)


def managed_env(project: Project, endpoint: Endpoint) -> dict[str, str]:
    """Env flashctl always sets: the runtime port (and health path, when not /ping) for RunPod's
    load balancer, and ownership."""
    port = str(endpoint.runtime.port)
    env = {"PORT": port, "PORT_HEALTH": port, PROJECT_ENV: project.name}
    if endpoint.runtime.health_path:
        env["HEALTH_CHECK_PATH"] = endpoint.runtime.health_path
    return env


# RunPod's load balancer ends a request after 5.5 minutes whatever the endpoint's timeout
# (its docs, "Load balancing endpoints"): the timeout of a service with no cap of its own.
LOAD_BALANCER_LIMIT_S = 330.0


def endpoint_timeout_ms(endpoint: Endpoint) -> int:
    """RunPod's per-request timeout: the longest any route may run, in milliseconds."""
    request_timeout = endpoint.runtime.request_timeout
    seconds = [LOAD_BALANCER_LIMIT_S if request_timeout is None else request_timeout]
    seconds += [r.timeout for r in endpoint.routes if r.timeout is not None]
    return int(max(seconds) * 1000)


def pending_registry(name: str) -> str:
    """What stands in `registry` for a credential whose id RunPod has not given yet (a render,
    or a plan that creates it); `apply` puts the id in its place before anything is sent.

    >>> pending_registry("acme-ghcr")
    '<registry credential acme-ghcr>'
    """
    return f"<registry credential {name}>"


def is_pending_registry(value: object) -> bool:
    """Whether `value` is a `pending_registry` placeholder (RunPod's ids never start with `<`)."""
    return isinstance(value, str) and value.startswith("<registry credential ")


def create_body(
    project: Project, endpoint: Endpoint, registry_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The `POST /v2/serverless` body for `endpoint` (without `image` when none is set yet).

    `registry` is the id of the credential `registry_auth` names, from `registry_ids` (name ->
    id), or `pending_registry(name)` when the id is not known."""
    env = {var.name: var.rendered for var in endpoint.env}
    env.update(managed_env(project, endpoint))
    body: dict[str, Any] = {
        "name": endpoint.runpod_name,
        "type": "LOAD_BALANCER",
        "disk": endpoint.compute.disk_gb,
        "env": dict(sorted(env.items())),
        "ports": [f"{endpoint.runtime.port}/http"],
        "workers": {
            "min": endpoint.scaling.workers_min,
            "max": endpoint.scaling.workers_max,
            "idleTimeout": endpoint.scaling.idle_timeout,
        },
        "scaling": {"type": "REQUEST_COUNT", "requestCount": endpoint.scaling.request_count},
        "dataCenterIds": list(endpoint.compute.data_centers),
        "networkVolumes": list(endpoint.compute.network_volumes),
        "timeout": endpoint_timeout_ms(endpoint),
        "flashboot": FLASHBOOT[endpoint.scaling.flashboot],
    }
    if endpoint.image:
        body["image"] = endpoint.image
    if endpoint.registry_auth:
        name = endpoint.registry_auth.name
        body["registry"] = (registry_ids or {}).get(name) or pending_registry(name)
    if endpoint.args:
        body["args"] = endpoint.args
    gpu = endpoint.compute.gpu
    if gpu is not None:
        body["gpu"] = {"pools": list(gpu.pools), "count": gpu.per_worker}
        if gpu.exclude:
            body["gpu"]["excludedTypes"] = list(gpu.exclude)
        if gpu.min_cuda:
            body["gpu"]["minCudaVersion"] = gpu.min_cuda
        if gpu.cuda_versions:
            body["gpu"]["allowedCudaVersions"] = list(gpu.cuda_versions)
    else:
        body["cpu"] = [{"id": c.flavor, "vcpuCount": c.vcpus} for c in endpoint.compute.cpu]
    return body
