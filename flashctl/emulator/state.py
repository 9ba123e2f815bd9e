"""The emulator's account: endpoints as RunPod returns them, their workers, and the state file.

Endpoints are stored as the public `Endpoint` documents (server defaults filled in), so a GET
returns exactly what was stored. Each mutation rewrites the state file atomically (temp file +
`os.replace`), so an emulator killed at any moment restarts with the last complete state; the
temp file a kill leaves (`.<state>.*.partial`, a name only this module writes) is removed at
the next start.
Times are wall-clock (`time.time()`) so that they stay meaningful across a restart.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flashctl.emulator import catalog
from flashctl.errors import DeployError
from flashctl.files import remove_partial_writes, write_file

JSONObject = dict[str, Any]

# What RunPod fills in when a create leaves a field out (per CreateEndpointRequest's defaults).
DEFAULT_WORKERS = {"min": 0, "max": 3, "idleTimeout": 10}
DEFAULT_TIMEOUT_MS = 300_000
DEFAULT_DISK_GB = 5
DEFAULT_DATA_CENTER = "US-KS-2"

# Changing any of these rolls out a new release: workers restart on the new configuration.
RESTART_FIELDS = (
    "image",
    "args",
    "disk",
    "env",
    "ports",
    "registry",
    "gpu",
    "cpu",
    "dataCenterIds",
    "networkVolumes",
    "flashboot",
)
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int = 14) -> str:
    """A RunPod-shaped id: lowercase letters and digits (`x7k2m9q4p1v8z3`)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def request_urls(endpoint_id: str, endpoint_type: str, env: dict[str, str]) -> JSONObject:
    """`requestUrls` as RunPod builds them for each endpoint type."""
    if endpoint_type == "LOAD_BALANCER":
        base = f"https://{endpoint_id}.api.runpod.ai"
        health = env.get("HEALTH_CHECK_PATH", "/ping")
        return {"base": base, "health": base + "/" + health.lstrip("/")}
    api = f"https://api.runpod.ai/v2/{endpoint_id}"
    return {
        "run": f"{api}/run",
        "runSync": f"{api}/runsync",
        "status": f"{api}/status/{{job_id}}",
        "stream": f"{api}/stream/{{job_id}}",
        "cancel": f"{api}/cancel/{{job_id}}",
        "retry": f"{api}/retry/{{job_id}}",
        "purgeQueue": f"{api}/purge-queue",
        "health": f"{api}/health",
    }


class EmulatorState:
    """All endpoints of one emulated account, persisted to `path` when one is given."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        worker_ready_delay: float = 0.3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.worker_ready_delay = worker_ready_delay
        self._clock = clock
        # id -> {"endpoint": Endpoint document, "version": int, "workers": [worker record]}
        self._records: dict[str, JSONObject] = {}
        if path is not None:
            remove_partial_writes(path)
            if path.exists():
                self._records = _read_state(path)

    # -- endpoints ---------------------------------------------------------------------------

    def list(self) -> list[JSONObject]:
        return [copy.deepcopy(record["endpoint"]) for record in self._records.values()]

    def get(self, endpoint_id: str) -> JSONObject | None:
        record = self._records.get(endpoint_id)
        return copy.deepcopy(record["endpoint"]) if record else None

    def create(self, body: JSONObject) -> JSONObject:
        """Store an endpoint from a valid create body; names may repeat, as on RunPod."""
        endpoint_id = new_id()
        while endpoint_id in self._records:
            endpoint_id = new_id()
        endpoint = _endpoint_from_create(endpoint_id, body, self._now_iso())
        self._records[endpoint_id] = {"endpoint": endpoint, "version": 1, "workers": []}
        self._reconcile_workers(endpoint_id, restart=True)
        self.save()
        return copy.deepcopy(endpoint)

    def update(self, endpoint_id: str, changes: JSONObject) -> JSONObject:
        """Apply a valid PATCH body: only the given fields change."""
        record = self._records[endpoint_id]
        before = record["endpoint"]
        after = _apply_patch(before, changes)
        restart = any(before.get(name) != after.get(name) for name in RESTART_FIELDS)
        if restart:
            record["version"] += 1
        record["endpoint"] = after
        self._reconcile_workers(endpoint_id, restart=restart)
        self.save()
        return copy.deepcopy(after)

    def delete(self, endpoint_id: str) -> bool:
        if self._records.pop(endpoint_id, None) is None:
            return False
        self.save()
        return True

    def reset(self) -> None:
        self._records.clear()
        self.save()

    def max_workers(self, excluding: str | None = None) -> int:
        """workers.max summed over the endpoints (but `excluding`), for the worker quota."""
        return sum(
            int(record["endpoint"]["workers"]["max"])
            for endpoint_id, record in self._records.items()
            if endpoint_id != excluding
        )

    # -- workers -----------------------------------------------------------------------------

    def workers(self, endpoint_id: str) -> JSONObject:
        """`ListEndpointWorkersResponse`: workers are INITIALIZING until the ready delay passes."""
        record = self._records[endpoint_id]
        endpoint = record["endpoint"]
        now = self._clock()
        gpu = endpoint.get("gpu")
        workers = []
        for worker in record["workers"]:
            ready_at = worker["startedAt"] + self.worker_ready_delay
            ready = now >= ready_at
            workers.append(
                {
                    "id": worker["id"],
                    "status": "IDLE" if ready else "INITIALIZING",
                    "isStale": worker["version"] != record["version"],
                    "version": worker["version"],
                    "gpuCount": gpu["count"] if gpu else 0,
                    "image": endpoint["image"],
                    "uptimeSeconds": int(now - ready_at) if ready else None,
                    "gpuTypeId": _placed_gpu_type(gpu) if ready and gpu else None,
                    "dataCenterId": (endpoint["dataCenterIds"] or [DEFAULT_DATA_CENTER])[0]
                    if ready
                    else None,
                    "startedAt": _iso(ready_at) if ready else None,
                }
            )
        summary = {s: 0 for s in ("running", "idle", "initializing", "throttled", "unhealthy")}
        for worker in workers:
            summary[worker["status"].lower()] += 1
        summary["total"] = len(workers)
        return {"workers": workers, "summary": summary, "endpointVersion": record["version"]}

    def _reconcile_workers(self, endpoint_id: str, *, restart: bool) -> None:
        """Keep `workers.min` workers; a restart replaces them all with fresh ones."""
        record = self._records[endpoint_id]
        wanted = record["endpoint"]["workers"]["min"]
        current = [] if restart else record["workers"][:wanted]
        now = self._clock()
        while len(current) < wanted:
            current.append({"id": new_id(), "startedAt": now, "version": record["version"]})
        record["workers"] = current

    # -- persistence -------------------------------------------------------------------------

    def save(self) -> None:
        if self.path is None:
            return
        payload = {"format": 1, "endpoints": list(self._records.values())}
        write_file(self.path, json.dumps(payload, indent=1, sort_keys=True).encode("utf-8"))

    def _now_iso(self) -> str:
        return _iso(self._clock())


def _read_state(path: Path) -> dict[str, JSONObject]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return {record["endpoint"]["id"]: record for record in payload["endpoints"]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DeployError(
            f"The emulator state file {path} cannot be read ({err}); move it away to start empty."
        ) from err


def _endpoint_from_create(endpoint_id: str, body: JSONObject, created_at: str) -> JSONObject:
    env = dict(body.get("env", {}))
    endpoint: JSONObject = {
        "id": endpoint_id,
        "name": body["name"],
        "type": body["type"],
        "requestUrls": request_urls(endpoint_id, body["type"], env),
        "image": body.get("image", ""),
        "args": body.get("args", ""),
        "disk": body.get("disk", DEFAULT_DISK_GB),
        "ports": list(body.get("ports", [])),
        "env": env,
        "registry": body.get("registry"),
        "workers": {**DEFAULT_WORKERS, **body.get("workers", {})},
        "scaling": dict(body["scaling"]),
        "dataCenterIds": list(body.get("dataCenterIds", [])),
        "networkVolumes": list(body.get("networkVolumes", [])),
        "timeout": body.get("timeout", DEFAULT_TIMEOUT_MS),
        "flashboot": body.get("flashboot", "OFF"),
        "createdAt": created_at,
    }
    if "gpu" in body:
        defaults = {"pools": [], "count": 1, "allowedCudaVersions": [], "minCudaVersion": None}
        endpoint["gpu"] = _merge_gpu(defaults, body["gpu"])
    else:
        endpoint["gpu"] = None
        endpoint["cpu"] = [_cpu_config(cpu) for cpu in body["cpu"]]
    _drop_inapplicable_idle_timeout(endpoint)
    return endpoint


def _apply_patch(endpoint: JSONObject, changes: JSONObject) -> JSONObject:
    after = copy.deepcopy(endpoint)
    for name, value in changes.items():
        if name == "templateId":
            continue  # rejected earlier: the emulator has no templates
        if name == "workers":
            after["workers"] = {**after["workers"], **value}
        elif name == "gpu":
            after["gpu"] = _merge_gpu(after["gpu"], value)
        elif name == "cpu":
            after["cpu"] = [_cpu_config(cpu) for cpu in value]
        else:
            after[name] = copy.deepcopy(value)
    if "env" in changes and after["type"] == "LOAD_BALANCER":
        after["requestUrls"] = request_urls(after["id"], after["type"], after["env"])
    _drop_inapplicable_idle_timeout(after)
    return after


def _merge_gpu(current: JSONObject, changes: JSONObject) -> JSONObject:
    gpu = {**current, **copy.deepcopy(changes)}
    if "pools" in changes and "excludedTypes" not in changes:
        gpu.pop("excludedTypes", None)  # pools and exclusions are one selection
    if "excludedTypes" in gpu:
        gpu["excludedTypes"] = [t.strip() for t in gpu["excludedTypes"]]
        if not gpu["excludedTypes"]:
            del gpu["excludedTypes"]
    if gpu.get("minCudaVersion") == "":
        gpu["minCudaVersion"] = None  # "" clears the floor
    return gpu


def _cpu_config(cpu: JSONObject) -> JSONObject:
    _, ram_per_vcpu = catalog.CPU_FLAVORS[cpu["id"]]
    memory = max(1, int(cpu["vcpuCount"] * ram_per_vcpu))
    return {"id": cpu["id"], "vcpuCount": cpu["vcpuCount"], "memory": memory}


def _drop_inapplicable_idle_timeout(endpoint: JSONObject) -> None:
    if endpoint["type"] == "QUEUE" and endpoint["scaling"]["type"] == "REQUEST_COUNT":
        endpoint["workers"].pop("idleTimeout", None)


def _placed_gpu_type(gpu: JSONObject) -> str | None:
    excluded = set(gpu.get("excludedTypes", []))
    for pool in gpu["pools"]:
        for type_id in catalog.GPU_POOLS.get(pool, []):
            if type_id not in excluded:
                return type_id
    return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
