"""The emulator's account: endpoints as RunPod returns them, their workers, and the state file.

Endpoints are stored as complete `Endpoint` documents (server defaults filled in), and
answered as a server answers, not as a mirror (`public_view`): GPU pools and data centers come
back in the server's order, env gains the `RUNPOD_*` variables the server owns, and optional
fields at their empty value (`args`, `registry`, `ports`, `gpu.count` 1) are left out, as are
any named in `omit_fields` (`type`, which a legacy endpoint's description lacks). With
`list_lag`, a new endpoint appears in the list only that many seconds after its create.

A change of a RESTART_FIELDS field makes a release (a create is release 1) and a rolling update
of the workers (see "workers and releases" below).

Each mutation rewrites the state file atomically (temp file + `os.replace`), so an emulator
killed at any moment restarts with the last complete state; the temp file a kill leaves
(`.<state>.*.partial`, a name only this module writes) is removed at the next start.
Times are wall-clock (`time.time()`) so that they stay meaningful across a restart.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flashctl.emulator import catalog
from flashctl.errors import DeployError
from flashctl.files import remove_partial_writes, write_file

JSONObject = dict[str, Any]
JSONObjects = list[JSONObject]  # (the class's `list` method shadows the name in its body)
Usage = list[tuple[JSONObject, list[tuple[float, float]]]]  # endpoint, its workers' run spans

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
# Env the server sets on every endpoint; RunPod reserves the RUNPOD_ prefix for its own.
SERVER_ENV_PREFIX = "RUNPOD_"
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
        omit_fields: tuple[str, ...] = (),
        rollout_interval: float = 0.5,
        list_lag: float = 0.0,
    ) -> None:
        self.path = path
        self.list_lag = list_lag
        self.worker_ready_delay = worker_ready_delay
        self.rollout_interval = rollout_interval
        self.omit_fields = omit_fields
        self._clock = clock
        # `--run-workers`: the emulator's own URL, which load-balancer endpoints' requestUrls
        # point at (`http://127.0.0.1:8765/<id>`) instead of `https://<id>.api.runpod.ai`.
        self.local_base: str | None = None
        # id -> {"endpoint": Endpoint, "version": int, "workers": [...], "releases": [...]}
        self._records: dict[str, JSONObject] = {}
        self._registries: dict[str, JSONObject] = {}  # id -> {"id", "name"}; never a login
        if path is not None:
            remove_partial_writes(path)
            if path.exists():
                self._records = _read_state(path)
                self._registries = _read_registries(path)

    # -- endpoints ---------------------------------------------------------------------------

    def list(self) -> list[JSONObject]:
        """The endpoints the list shows: one created less than `list_lag` seconds ago is not
        listed yet (an eventually consistent list), though `get` finds it at once."""
        now = self._clock()
        return [
            self._view(record["endpoint"])
            for record in self._records.values()
            if record.get("listedAt", 0.0) <= now
        ]

    def stored_ids(self) -> tuple[str, ...]:
        """Every endpoint's id, listed yet or not (for tests: what the account really holds)."""
        return tuple(self._records)

    def get(self, endpoint_id: str) -> JSONObject | None:
        """The endpoint as the API answers it (see `public_view`)."""
        record = self._records.get(endpoint_id)
        return self._view(record["endpoint"]) if record else None

    def stored(self, endpoint_id: str) -> JSONObject | None:
        """The complete stored document, for the API's own rules."""
        record = self._records.get(endpoint_id)
        return copy.deepcopy(record["endpoint"]) if record else None

    def peek(self, endpoint_id: str) -> JSONObject | None:
        """The stored document itself, not a copy: read it, never change it (the load
        balancer reads it on every request, where a deep copy would cost more than the hop)."""
        record = self._records.get(endpoint_id)
        return record["endpoint"] if record else None

    def _view(self, endpoint: JSONObject) -> JSONObject:
        view = public_view(endpoint, self.omit_fields)
        if self.local_base is not None and endpoint["type"] == "LOAD_BALANCER":
            base = f"{self.local_base}/{endpoint['id']}"
            health = endpoint["env"].get("HEALTH_CHECK_PATH", "/ping")
            view["requestUrls"] = {"base": base, "health": base + "/" + health.lstrip("/")}
        return view

    def ids(self) -> tuple[str, ...]:
        return tuple(self._records)

    def version(self, endpoint_id: str) -> int:
        """The endpoint's current release version (0 when it is gone)."""
        record = self._records.get(endpoint_id)
        return int(record["version"]) if record else 0

    def create(self, body: JSONObject) -> JSONObject:
        """Store an endpoint from a valid create body (its release 1); names may repeat."""
        endpoint_id = new_id()
        while endpoint_id in self._records:
            endpoint_id = new_id()
        now = self._clock()
        endpoint = _endpoint_from_create(endpoint_id, body, _iso(now))
        record: JSONObject = {
            "endpoint": endpoint,
            "version": 1,
            "workers": [],
            "releases": [],
            "listedAt": now + self.list_lag,
        }
        self._records[endpoint_id] = record
        self._add_release(record, release_diff(None, endpoint), now)
        self._reconcile_workers(record, now)
        self.save()
        return self._view(endpoint)

    def update(self, endpoint_id: str, changes: JSONObject) -> JSONObject:
        """Apply a valid PATCH body: only the given fields change. A change of a RESTART_FIELDS
        field makes a new release, rolled out to the workers one at a time (`workers`)."""
        record = self._records[endpoint_id]
        before = record["endpoint"]
        after = _apply_patch(before, changes)
        now = self._clock()
        if any(before.get(name) != after.get(name) for name in RESTART_FIELDS):
            record["version"] += 1
            self._add_release(record, release_diff(before, after), now)
        record["endpoint"] = after
        self._reconcile_workers(record, now)
        self.save()
        return self._view(after)

    def delete(self, endpoint_id: str) -> bool:
        if self._records.pop(endpoint_id, None) is None:
            return False
        self.save()
        return True

    def reset(self) -> None:
        self._records.clear()
        self._registries.clear()
        self.save()

    def max_workers(self, excluding: str | None = None) -> int:
        """workers.max summed over the endpoints (but `excluding`), for the worker quota."""
        return sum(
            int(record["endpoint"]["workers"]["max"])
            for endpoint_id, record in self._records.items()
            if endpoint_id != excluding
        )

    # -- registry credentials ----------------------------------------------------------------
    #
    # RunPod keeps the username and password write-only; the emulator needs neither, so it
    # keeps neither (not in memory, not in the state file).

    def registries(self) -> JSONObjects:
        return [dict(registry) for registry in self._registries.values()]

    def registry(self, registry_id: str) -> JSONObject | None:
        found = self._registries.get(registry_id)
        return dict(found) if found else None

    def create_registry(self, name: str) -> JSONObject:
        registry_id = new_id(8)
        while registry_id in self._registries:
            registry_id = new_id(8)
        self._registries[registry_id] = {"id": registry_id, "name": name}
        self.save()
        return dict(self._registries[registry_id])

    def delete_registry(self, registry_id: str) -> bool:
        """Forget a credential; endpoints that pulled with it lose the reference (`registry`
        becomes null), as RunPod's templates do."""
        if self._registries.pop(registry_id, None) is None:
            return False
        for record in self._records.values():
            if record["endpoint"].get("registry") == registry_id:
                record["endpoint"]["registry"] = None
        self.save()
        return True

    # -- workers and releases ----------------------------------------------------------------
    #
    # A worker record is {id, version, image, startedAt, retireAt, busy}; it is live from
    # startedAt until retireAt (None: until further notice). A rolling update schedules, for each
    # stale worker, its retirement and the start of its replacement at the same moment, one every
    # `rollout_interval` seconds, idle workers first; so every answer is a pure function of the
    # clock, and a restarted emulator carries on where it was.

    def workers(self, endpoint_id: str) -> JSONObject:
        """`ListEndpointWorkersResponse`: workers are INITIALIZING until the ready delay passes;
        a worker on an older version than the endpoint's is `isStale` until it is replaced."""
        record = self._records[endpoint_id]
        endpoint = record["endpoint"]
        now = self._clock()
        gpu = endpoint.get("gpu")
        workers = []
        for worker in _live(record, now):
            ready_at = worker["startedAt"] + self.worker_ready_delay
            ready = now >= ready_at
            status = ("RUNNING" if worker.get("busy") else "IDLE") if ready else "INITIALIZING"
            workers.append(
                {
                    "id": worker["id"],
                    "status": status,
                    "isStale": worker["version"] != record["version"],
                    "version": worker["version"],
                    "gpuCount": gpu["count"] if gpu else 0,
                    "image": worker.get("image", endpoint["image"]),
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

    def live_workers(self, endpoint_id: str) -> Sequence[JSONObject]:
        """Copies of the endpoint's live worker records ({id, version, image, startedAt, ...}),
        for the workers' logs."""
        return [dict(worker) for worker in _live(self._records[endpoint_id], self._clock())]

    def releases(self, endpoint_id: str) -> JSONObject:
        """`ListEndpointReleasesResponse`: the releases newest first, and the rollout's progress."""
        record = self._records[endpoint_id]
        live = _live(record, self._clock())
        version = record["version"]
        on_latest = sum(1 for worker in live if worker["version"] == version)
        releases = [
            {**release, "workerCount": sum(1 for w in live if w["version"] == release["version"])}
            for release in reversed(record["releases"])
        ]
        return {
            "endpointVersion": version,
            "rollout": {
                "inProgress": on_latest < len(live),
                "workersOnLatest": on_latest,
                "workersTotal": len(live),
                "percentOnLatest": on_latest * 100 // len(live) if live else 0,
            },
            "releases": releases,
        }

    def usage(self) -> tuple[float, Usage]:
        """Now, and each endpoint (stored document) with the spans its workers ran: billing."""
        now = self._clock()
        return now, [
            (copy.deepcopy(record["endpoint"]), worker_intervals(record, now))
            for record in self._records.values()
        ]

    def set_busy(self, endpoint_id: str, count: int) -> None:
        """Mark `count` of the live workers RUNNING (serving a request), the rest not; a test hook.
        The rollout in progress is rescheduled so that busy workers are replaced last."""
        record = self._records[endpoint_id]
        now = self._clock()
        _settle(record, now)
        for index, worker in enumerate(record["workers"]):
            worker["busy"] = index < count
        self._reconcile_workers(record, now)
        self.save()

    def _add_release(self, record: JSONObject, diff: Sequence[JSONObject], now: float) -> None:
        record.setdefault("releases", []).append(
            {
                "id": new_id(8),
                "version": record["version"],
                "source": "MANUAL",
                "buildId": None,
                "createdByUserId": None,
                "createdAt": _iso(now),
                "diff": list(diff),
            }
        )

    def _reconcile_workers(self, record: JSONObject, now: float) -> None:
        """Keep `workers.min` live workers (stale ones go first when there are too many), and
        schedule the replacement of each stale one: idle workers first, one per interval."""
        _settle(record, now)
        version = record["version"]
        wanted = record["endpoint"]["workers"]["min"]
        # Stale before current, idle before busy: the order in which workers are given up.
        order = sorted(
            record["workers"],
            key=lambda w: (w["version"] == version, bool(w.get("busy"))),
        )
        kept = order[max(0, len(order) - wanted) :] if wanted else []
        for worker in order[: len(order) - len(kept)]:
            _bill(record, worker, now)  # scaled away now
        kept.sort(key=lambda w: (bool(w.get("busy")), w["startedAt"]))
        image = record["endpoint"]["image"]
        while len(kept) < wanted:
            kept.append(self._new_worker(version, image, now))
        replacements = []
        stale = [w for w in kept if w["version"] != version]
        for index, worker in enumerate(stale, start=1):
            at = now + index * self.rollout_interval
            worker["retireAt"] = at
            replacements.append(self._new_worker(version, image, at))
        record["workers"] = kept + replacements

    @staticmethod
    def _new_worker(version: int, image: str, started: float) -> JSONObject:
        return {
            "id": new_id(),
            "version": version,
            "image": image,
            "startedAt": started,
            "retireAt": None,
            "busy": False,
        }

    # -- persistence -------------------------------------------------------------------------

    def save(self) -> None:
        if self.path is None:
            return
        payload = {
            "format": 1,
            "endpoints": list(self._records.values()),
            "registries": list(self._registries.values()),
        }
        write_file(self.path, json.dumps(payload, indent=1, sort_keys=True).encode("utf-8"))

    def _now_iso(self) -> str:
        return _iso(self._clock())


def _live(record: JSONObject, now: float) -> list[JSONObject]:
    return [
        worker
        for worker in record["workers"]
        if worker["startedAt"] <= now
        and (worker.get("retireAt") is None or now < worker["retireAt"])
    ]


def _settle(record: JSONObject, now: float) -> None:
    """Make the schedule the present: retired workers go, replacements not started yet are
    dropped (the workers they were to replace stay, unscheduled)."""
    for worker in record["workers"]:
        retired = worker.get("retireAt")
        if retired is not None and worker["startedAt"] < retired <= now:
            _bill(record, worker, retired)
    workers = _live(record, now)
    for worker in workers:
        worker["retireAt"] = None
    record["workers"] = workers


def _bill(record: JSONObject, worker: JSONObject, until: float) -> None:
    """Keep the time a worker that goes away ran, `[startedAt, until]`, for billing."""
    record.setdefault("usage", []).append([worker["startedAt"], until])


def worker_intervals(record: JSONObject, now: float) -> list[tuple[float, float]]:
    """Every span a worker of the endpoint ran, `(start, end)`, those running now up to `now`:
    what the emulator bills (see `billing.py`)."""
    spans = [(float(start), float(end)) for start, end in record.get("usage", [])]
    spans += [(float(w["startedAt"]), now) for w in _live(record, now)]
    return spans


# Fields of an Endpoint that are not its configuration.
_NOT_CONFIGURATION = ("id", "createdAt", "requestUrls")


def release_diff(before: JSONObject | None, after: JSONObject) -> list[JSONObject]:
    """`ReleaseDiffEntry`s from `before` (None: a create) to `after`: one per changed leaf,
    mappings by key (`workers.max`, `env.LOG_LEVEL`), lists as wholes.

    >>> release_diff({"image": "a:1", "disk": 5}, {"image": "a:2", "disk": 5})
    [{'field': 'image', 'old': 'a:1', 'new': 'a:2'}]
    """
    old = _leaves({k: v for k, v in (before or {}).items() if k not in _NOT_CONFIGURATION})
    new = _leaves({k: v for k, v in after.items() if k not in _NOT_CONFIGURATION})
    return [
        {"field": field, "old": old.get(field), "new": new.get(field)}
        for field in [*new, *(f for f in old if f not in new)]
        if old.get(field) != new.get(field)
    ]


def _leaves(value: JSONObject, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            found.update(_leaves(item, f"{prefix}{key}."))
        else:
            found[prefix + key] = copy.deepcopy(item)
    return found


def _read_state(path: Path) -> dict[str, JSONObject]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        records = {record["endpoint"]["id"]: record for record in payload["endpoints"]}
        for record in records.values():
            record.setdefault("releases", [])  # a state file from before releases
        return records
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DeployError(
            f"The emulator state file {path} cannot be read ({err}); move it away to start empty."
        ) from err


def _read_registries(path: Path) -> dict[str, JSONObject]:
    """The registry credentials of a state file (none in one from before registries)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(r["id"]): {"id": str(r["id"]), "name": str(r["name"])}
            for r in payload.get("registries", [])
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DeployError(
            f"The emulator state file {path} cannot be read ({err}); move it away to start empty."
        ) from err


def public_view(endpoint: JSONObject, omit_fields: tuple[str, ...] = ()) -> JSONObject:
    """`endpoint` as the server answers it: optional fields at their empty value left out."""
    view = copy.deepcopy(endpoint)
    for name, empty in (("args", ""), ("registry", None), ("ports", [])):
        if name in view and view[name] == empty:
            del view[name]
    if view.get("gpu") and view["gpu"].get("count") == 1:
        del view["gpu"]["count"]
    for name in omit_fields:
        view.pop(name, None)
    return view


def server_env(endpoint_id: str) -> dict[str, str]:
    """The env the server adds to every endpoint."""
    return {SERVER_ENV_PREFIX + "ENDPOINT_ID": endpoint_id}


def _endpoint_from_create(endpoint_id: str, body: JSONObject, created_at: str) -> JSONObject:
    env = {**body.get("env", {}), **server_env(endpoint_id)}
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
        "dataCenterIds": sorted(body.get("dataCenterIds", [])),
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
        elif name == "env":
            after["env"] = {**value, **server_env(after["id"])}
        elif name == "dataCenterIds":
            after["dataCenterIds"] = sorted(value)
        else:
            after[name] = copy.deepcopy(value)
    if "env" in changes and after["type"] == "LOAD_BALANCER":
        after["requestUrls"] = request_urls(after["id"], after["type"], after["env"])
    _drop_inapplicable_idle_timeout(after)
    return after


def _merge_gpu(current: JSONObject, changes: JSONObject) -> JSONObject:
    gpu = {**current, **copy.deepcopy(changes)}
    gpu["pools"] = sorted(gpu["pools"])  # the server keeps pools in its own order
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
