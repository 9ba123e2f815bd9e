"""runpod-flash resources -> the flash.yaml document, and a list of what did not carry over.

Options are read in runpod-flash's resource spelling (`workersMin`, `gpus`, `instanceIds`, ...);
`Endpoint(...)` keywords are first renamed to it (`workers=(1, 3)`, `gpu=`, `cpu=`, ...). Where
runpod-flash (or, for a module importing tetra_rp, tetra-rp) and flash.yaml default differently
(workers, idle timeout, CUDA 12.8, Python 3.12, no per-request cap), the package's value is
written out, so the endpoint behaves as before. A FastAPI or Starlette app becomes an endpoint
serving it whole (`app: "main:app"`), with its mothership's settings when it has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flashctl.catalog import GPU_POOLS, NAME_MAX, POOL_TYPES
from flashctl.import_flash import catalog
from flashctl.import_flash.scan import (
    LOAD_BALANCERS,
    QUEUE_BASED,
    Handler,
    Resource,
    Scan,
)
from flashctl.import_flash.values import CallRef, EnumRef, Unknown
from flashctl.runpod.create_body import LOAD_BALANCER_LIMIT_S

FLASH_PYTHON = "3.12"  # runpod-flash's worker Python
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Defaults:
    """What a resource gets for the options it leaves out: runpod-flash and tetra-rp differ."""

    workers: tuple[int, int]  # (workersMin, workersMax)
    idle_timeout: int  # idleTimeout, seconds
    min_cuda: str | None  # minCudaVersion; None: any CUDA
    execution_timeout_ms: int  # executionTimeoutMs; 0: no per-request cap


# runpod_flash/core/resources/serverless.py and constants.py (DEFAULT_WORKERS_MIN/MAX)
FLASH_DEFAULTS = Defaults(workers=(0, 1), idle_timeout=60, min_cuda="12.8", execution_timeout_ms=0)
# tetra_rp/core/resources/serverless.py (no minCudaVersion field)
TETRA_DEFAULTS = Defaults(workers=(0, 3), idle_timeout=5, min_cuda=None, execution_timeout_ms=0)
DEFAULTS = {"runpod_flash": FLASH_DEFAULTS, "tetra_rp": TETRA_DEFAULTS}
FLASH_WORKERS = FLASH_DEFAULTS.workers

# Endpoint(...) keyword -> resource field
ENDPOINT_KEYWORDS = {
    "gpu": "gpus",
    "cpu": "instanceIds",
    "idle_timeout": "idleTimeout",
    "gpu_count": "gpuCount",
    "execution_timeout_ms": "executionTimeoutMs",
    "scaler_type": "scalerType",
    "scaler_value": "scalerValue",
    "min_cuda_version": "minCudaVersion",
    "image": "imageName",
    "volume": "networkVolumes",
}
UNSUPPORTED = {
    "imageName": "flash.yaml builds the image from your code (`flashctl render`), so a prebuilt "
    "image is not carried over",
    "template": "pod templates have no flash.yaml equivalent",
    "templateId": "pod templates have no flash.yaml equivalent",
    "max_concurrency": "queue job concurrency has no equivalent; runtime.max_concurrency bounds "
    "in-flight HTTP requests per process instead",
    "cudaVersions": "use compute.gpu.min_cuda",
    "allowedCudaVersions": "use compute.gpu.cuda_versions",
    "locations": "use compute.data_centers",
    "accelerate_downloads": "download acceleration is runpod-flash's own",
}
HANDLED = {
    "name", "gpus", "instanceIds", "gpuCount", "workers", "workersMin", "workersMax",
    "idleTimeout", "scalerType", "scalerValue", "flashboot", "executionTimeoutMs",
    "minCudaVersion", "datacenter", "networkVolume", "networkVolumes", "networkVolumeId", "env",
    "dependencies", "system_dependencies", "python_version", "id", "gpuIds",
}  # fmt: skip


@dataclass
class Translation:
    """The document (plain data, key order as written) and what needs a human."""

    document: dict[str, Any]
    notes: list[str]
    origins: dict[str, str] = field(default_factory=dict)  # endpoint key -> where it came from


def translate(scan: Scan, project: str, source: str) -> Translation:
    notes = list(scan.notes)
    endpoints: dict[str, Any] = {}
    origins: dict[str, str] = {}
    hosts = _app_hosts(scan)
    for resource in scan.resources:
        if not resource.handlers and resource in hosts.values():
            continue  # the mothership: it serves an app, below
        if not resource.handlers:
            notes.append(
                f"{resource.where}: {resource.kind} '{resource.name}' has no functions decorated "
                "onto it (a mothership or client endpoint?); no endpoint written"
            )
            continue
        if "id" in resource.options:
            notes.append(
                f"{resource.where}: {resource.kind}(id=...) calls an existing endpoint; skipped"
            )
            continue
        routes = _routes(resource, notes)
        if not routes:
            notes.append(
                f"{resource.where}: {resource.kind} '{resource.name}' has no function that could "
                "become a route; no endpoint written"
            )
            continue
        key = _unique_key(_endpoint_key(resource.name, project), endpoints)
        modules = {route["handler"].partition(":")[0] for route in routes}
        extra = ["fastapi"] if any(scan.needs(m, "fastapi") for m in modules) else []
        endpoints[key] = _endpoint(resource, project, key, notes, extra)
        endpoints[key]["routes"] = routes
        origins[key] = f"{resource.kind} '{resource.name}' ({resource.where})"
    _app_endpoints(scan, project, endpoints, origins, notes)
    document: dict[str, Any] = {
        "version": 1,
        "project": project,
        "defaults": {"python": FLASH_PYTHON, "source": source},
        "endpoints": endpoints,
    }
    return Translation(document, sorted(notes, key=_position), origins)


def _app_hosts(scan: Scan) -> dict[str, Resource]:
    """The resource each app is deployed on, by app ("module:name"): runpod-flash deploys a
    project's FastAPI app on its "mothership", a load balancer resource without functions of
    its own. With one such resource and one app, they belong together."""
    idle = [r for r in scan.resources if not r.handlers and r.kind in LOAD_BALANCERS]
    if len(scan.apps) == 1 and len(idle) == 1:
        app = scan.apps[0]
        return {f"{app.module}:{app.name}": idle[0]}
    return {}


def _app_endpoints(
    scan: Scan,
    project: str,
    endpoints: dict[str, Any],
    origins: dict[str, str],
    notes: list[str],
) -> None:
    """One endpoint per FastAPI/Starlette app, `app: "module:name"`: the app served whole."""
    hosts = _app_hosts(scan)
    for app in scan.apps:
        target = f"{app.module}:{app.name}"
        host = hosts.get(target)
        if host is None:  # runpod-flash's own default for the app: a CPU load balancer
            package = app.package or _project_package(scan)
            host = Resource(target, "CpuLiveLoadBalancer", {}, app.where, package=package)
        name = host.options.get("name")
        key = _unique_key(
            _endpoint_key(name if isinstance(name, str) else app.name, project), endpoints
        )
        # the app needs fastapi in its image when the code imports it (runpod-flash's own
        # images had it); `app:` goes after the settings, where `routes:` would be
        extra = ["fastapi"] if scan.imports_fastapi else []
        endpoints[key] = {**_endpoint(host, project, key, notes, extra), "app": target}
        origins[key] = f"{app.kind} app '{app.name}' ({app.where})" + (
            f" on {host.kind} '{host.name}' ({host.where})" if host.ref != target else ""
        )
        notes.append(
            f"{app.where}: {app.kind} app '{app.name}' is served whole by endpoint '{key}' "
            f"(app: {target}); the service answers /ping itself, and the @remote functions its "
            "routes call run in its process, not on their own endpoints' workers"
        )
    if not scan.apps:
        for router in scan.routers:
            notes.append(
                f"{router} is in no FastAPI app: include it in one (`app = FastAPI()`, "
                "`app.include_router(...)`) and name that app under `app:`"
            )


def _project_package(scan: Scan) -> str:
    return "tetra_rp" if scan.packages == {"tetra_rp"} else "runpod_flash"


def _endpoint(
    resource: Resource, project: str, key: str, notes: list[str], extra: list[str] | None = None
) -> dict[str, Any]:
    options = _resource_options(resource)
    where = resource.where
    for name in sorted(set(options) - HANDLED):
        reason = UNSUPPORTED.get(name, "no flash.yaml equivalent")
        notes.append(
            f"{where}: {resource.name}: {name}={_shown(options[name])} not translated: {reason}"
        )
    endpoint: dict[str, Any] = {"image": f"ghcr.io/your-org/{project}-{key}:${{GIT_SHA:-dev}}"}
    python = options.get("python_version")
    if python is not None:
        if str(python) in PYTHONS and str(python) != FLASH_PYTHON:
            endpoint["python"] = str(python)
        elif str(python) not in PYTHONS:
            notes.append(f"{where}: {resource.name}: python_version={_shown(python)} not supported")
    dependencies = _merged(resource, "dependencies", options, notes)
    dependencies = [d for d in extra or () if not _names(dependencies, d)] + dependencies
    if dependencies:
        endpoint["dependencies"] = dependencies
    system = _merged(resource, "system_dependencies", options, notes)
    if system:
        endpoint["system_dependencies"] = system
    endpoint["compute"] = _compute(resource, options, notes)
    endpoint["scaling"] = _scaling(resource, options, notes)
    endpoint["runtime"] = {"request_timeout": _request_timeout(resource, options, notes)}
    # runpod-flash (FastAPI underneath, or **job["input"]) ignores keys no parameter names
    endpoint["runtime"]["unknown_keys"] = "ignore"
    env = options.get("env")
    if isinstance(env, dict) and env:
        literal = {
            k: v
            for k, v in env.items()
            if isinstance(k, str) and isinstance(v, (str, int, float, bool))
        }
        for name in sorted(set(env) - set(literal), key=str):
            notes.append(f"{where}: {resource.name}: env {name}={_shown(env[name])} not translated")
        if literal:
            endpoint["env"] = literal
    elif env is not None and not isinstance(env, dict):
        notes.append(f"{where}: {resource.name}: env={_shown(env)} not translated")
    return endpoint


def _request_timeout(
    resource: Resource, options: dict[str, Any], notes: list[str]
) -> float | int | None:
    """`executionTimeoutMs` as `runtime.request_timeout`: 0 (the default of both packages)
    is no cap of the service's own, which flash.yaml writes as null."""
    where = f"{resource.where}: {resource.name}"
    timeout_ms = options.get("executionTimeoutMs", DEFAULTS[resource.package].execution_timeout_ms)
    if timeout_ms is None or timeout_ms == 0:
        return None
    if not isinstance(timeout_ms, (int, float)) or isinstance(timeout_ms, bool) or timeout_ms < 0:
        notes.append(f"{where}: executionTimeoutMs={_shown(timeout_ms)} not understood; no cap")
        return None
    seconds = min(timeout_ms / 1000, 86400.0)
    if seconds > LOAD_BALANCER_LIMIT_S:
        notes.append(
            f"{where}: executionTimeoutMs={timeout_ms}: RunPod's load balancer ends a request "
            f"after {LOAD_BALANCER_LIMIT_S / 60:g} minutes whatever the endpoint allows"
        )
    return int(seconds) if seconds.is_integer() else seconds


def _names(requirements: list[str], name: str) -> bool:
    """Whether `requirements` already name the distribution `name` (`fastapi>=0.110`)."""
    return any(re.match(rf"{re.escape(name)}(?![A-Za-z0-9_.-])", r, re.I) for r in requirements)


def _resource_options(resource: Resource) -> dict[str, Any]:
    """The options in the resource spelling (`Endpoint` keywords renamed; tetra-rp's
    `gpuIds`, a list or a comma-separated string, read as `gpus`)."""
    options: dict[str, Any] = {}
    for name, value in resource.options.items():
        if name == "workers" and resource.kind == "Endpoint":
            low, high = _workers(value)
            options["workersMin"], options["workersMax"] = low, high
        elif resource.kind == "Endpoint":
            options[ENDPOINT_KEYWORDS.get(name, name)] = value
        else:
            options[name] = value
    ids = options.pop("gpuIds", None)
    if ids is not None and options.get("gpus") is None:
        options["gpus"] = (
            [i.strip() for i in ids.split(",") if i.strip()] if isinstance(ids, str) else ids
        )
    return options


def _workers(value: Any) -> tuple[Any, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return FLASH_WORKERS[0], value
    if isinstance(value, list) and len(value) == 2:
        return value[0], value[1]
    return value, value  # reported as not a number below


def _is_cpu(resource: Resource, options: dict[str, Any]) -> bool:
    return resource.kind.startswith("Cpu") or options.get("instanceIds") is not None


def _compute(resource: Resource, options: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    where = f"{resource.where}: {resource.name}"
    compute: dict[str, Any] = {}
    if _is_cpu(resource, options):
        compute["cpu"] = _cpu(options.get("instanceIds"), where, notes)
    else:
        compute["gpu"] = _gpu(options, DEFAULTS[resource.package], where, notes)
    centers = _data_centers(options.get("datacenter"), where, notes)
    if centers:
        compute["data_centers"] = centers
    volumes = _volumes(options, where, notes)
    if volumes:
        compute["network_volumes"] = volumes
    return compute


def _cpu(value: Any, where: str, notes: list[str]) -> list[dict[str, Any]]:
    items = (
        value
        if isinstance(value, list)
        else [value if value is not None else catalog.DEFAULT_CPU_INSTANCE]
    )
    configs: list[dict[str, Any]] = []
    for item in items:
        text = item.member if isinstance(item, EnumRef) else item
        parsed = catalog.cpu_instance(text) if isinstance(text, str) else None
        if parsed is None:
            notes.append(f"{where}: CPU instance {_shown(item)} not understood; left out")
            continue
        flavor, vcpus = parsed
        allowed = catalog.allowed_vcpus(vcpus)
        if allowed != vcpus:
            notes.append(
                f"{where}: {text} has {vcpus} vCPU; flash.yaml offers {flavor} with "
                f"{allowed} vCPUs (powers of two from 2)"
            )
        config = {"flavor": flavor, "vcpus": allowed}
        if config not in configs:
            configs.append(config)
    if not configs:
        notes.append(
            f"{where}: no CPU instance could be translated; using {catalog.DEFAULT_CPU_INSTANCE}"
        )
        configs.append({"flavor": "cpu3g", "vcpus": 2})
    return configs


def _gpu(
    options: dict[str, Any], defaults: Defaults, where: str, notes: list[str]
) -> dict[str, Any]:
    value = options.get("gpus")
    items = value if isinstance(value, list) else [value if value is not None else "any"]
    pools: list[str] = []
    whole: set[str] = set()  # pools asked for as a group: every GPU type in them
    named: dict[str, list[str]] = {}  # pool -> the GPU types asked for by name
    for item in items:
        text = item.member if isinstance(item, EnumRef) else item
        if not isinstance(text, str):
            notes.append(f"{where}: GPU {_shown(item)} not understood; left out")
            continue
        if text.lower() == "any":
            pools += [p for p in GPU_POOLS if p not in pools]
            whole.update(GPU_POOLS)
            notes.append(f"{where}: gpu ANY: every pool is listed; keep the ones you want")
            continue
        pool = catalog.gpu_pool(text)
        typed = catalog.gpu_type(text) if pool is None else None
        if pool is not None:
            whole.add(pool)
        elif typed is not None:
            pool, name = typed
            named.setdefault(pool, []).append(name)
        else:
            notes.append(f"{where}: GPU {_shown(item)} is not a known pool or type; left out")
            continue
        if pool not in pools:
            pools.append(pool)
    if not pools:
        pools = list(GPU_POOLS)
    exclude = [
        other
        for pool, names in named.items()
        if pool not in whole
        for other in POOL_TYPES[pool]
        if other not in names
    ]
    gpu: dict[str, Any] = {"pools": pools}
    count = options.get("gpuCount")
    if isinstance(count, int) and not isinstance(count, bool) and count != 1:
        gpu["count"] = count
    if exclude:
        gpu["exclude"] = exclude
    cuda = options.get("minCudaVersion", defaults.min_cuda)
    if isinstance(cuda, EnumRef):
        cuda = cuda.member.lstrip("Vv").replace("_", ".")
    if isinstance(cuda, str) and re.fullmatch(r"\d+\.\d+", cuda):
        gpu["min_cuda"] = cuda
    elif cuda is not None:
        notes.append(f"{where}: minCudaVersion={_shown(cuda)} not understood; any CUDA accepted")
    return gpu


def _data_centers(value: Any, where: str, notes: list[str]) -> list[str]:
    if value is None or (isinstance(value, CallRef) and value.short == "all"):
        return []  # every data center: the scheduler chooses
    items = value if isinstance(value, list) else [value]
    centers = []
    for item in items:
        if isinstance(item, EnumRef):
            centers.append(item.member.replace("_", "-"))
        elif isinstance(item, str):
            centers.append(item)
        else:
            notes.append(f"{where}: data center {_shown(item)} not understood; left out")
    return centers


def _volumes(options: dict[str, Any], where: str, notes: list[str]) -> list[str]:
    found: list[Any] = []
    for name in ("networkVolume", "networkVolumes"):
        value = options.get(name)
        if value is not None:
            found += value if isinstance(value, list) else [value]
    ids = [options["networkVolumeId"]] if isinstance(options.get("networkVolumeId"), str) else []
    for volume in found:
        volume_id = volume.kwargs.get("id") if isinstance(volume, CallRef) else None
        if isinstance(volume_id, str):
            ids.append(volume_id)
            continue
        label = volume.kwargs.get("name") if isinstance(volume, CallRef) else None
        notes.append(
            f"{where}: network volume {_shown(label or volume)} is created by "
            "runpod-flash; create it in RunPod and list its id under compute.network_volumes"
        )
    return ids


def _scaling(resource: Resource, options: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    where = f"{resource.where}: {resource.name}"
    defaults = DEFAULTS[resource.package]
    low = options.get("workersMin", defaults.workers[0])
    high = options.get("workersMax", defaults.workers[1])
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        low, high = defaults.workers
        notes.append(f"{where}: workers not numbers; using {low}..{high}")
    if high < 1:
        notes.append(f"{where}: workersMax {high}: flash.yaml needs at least 1; using 1")
        high = 1
    scaling: dict[str, Any] = {"workers": {"min": low, "max": max(high, low)}}
    idle = options.get("idleTimeout", defaults.idle_timeout)
    if isinstance(idle, int) and not isinstance(idle, bool) and idle != 60:
        scaling["idle_timeout"] = min(max(idle, 1), 3600)
        if scaling["idle_timeout"] != idle:
            notes.append(f"{where}: idleTimeout {idle} is outside 1..3600; clamped")
    scaler = options.get("scalerType")
    scaler_name = scaler.member if isinstance(scaler, EnumRef) else scaler
    value = options.get("scalerValue")
    if scaler_name == "QUEUE_DELAY":
        notes.append(
            f"{where}: scaler QUEUE_DELAY: load-balanced endpoints scale by request count "
            "(scaling.request_count)"
        )
    elif isinstance(value, int) and not isinstance(value, bool) and value != 4:
        scaling["request_count"] = value
    flashboot = options.get("flashboot")
    if flashboot is False:
        scaling["flashboot"] = "off"
    return scaling


def _merged(
    resource: Resource, option: str, options: dict[str, Any], notes: list[str]
) -> list[str]:
    """The resource's own list plus each decorated function's, in order, once each."""
    sources: list[Any] = [options.get(option)] + [getattr(h, option) for h in resource.handlers]
    merged: list[str] = []
    for value in sources:
        for item in value if isinstance(value, list) else [] if value is None else [value]:
            if isinstance(item, str):
                if item not in merged:
                    merged.append(item)
            else:
                shown = _shown(item)
                notes.append(f"{resource.where}: {resource.name}: {option} {shown} not translated")
    return merged


def _routes(resource: Resource, notes: list[str]) -> list[dict[str, str]]:
    queue_based = resource.decorated_directly or resource.kind in QUEUE_BASED
    routes: list[dict[str, str]] = []
    for handler in resource.handlers:
        found = (
            _class_routes(handler, queue_based, notes)
            if handler.is_class
            else [_route(resource, handler, queue_based, notes)]
        )
        for route in found:
            if route is not None and not any(
                (r["method"], r["path"]) == (route["method"], route["path"]) for r in routes
            ):
                routes.append(route)
    return routes


def _class_routes(
    handler: Handler, queue_based: bool, notes: list[str]
) -> list[dict[str, str] | None]:
    """A class endpoint: one instance per worker process, each public method a POST route
    named after it (`module:Class.method`), as its queue jobs were (taking their
    `{"input": {...}}` too when the class was a queue worker)."""
    if not handler.methods:
        notes.append(
            f"{handler.where}: class {handler.function} has no public method to serve; skipped"
        )
        return []
    paths = ", ".join(f"POST /{name}" for name in handler.methods)
    notes.append(
        f"{handler.where}: class {handler.function}: one instance per worker, created before "
        f"/ping turns 200; its methods are served as {paths}: callers send the method's "
        "arguments as JSON there instead of calling the class through runpod-flash"
    )
    envelope = {"envelope": "input"} if queue_based else {}
    return [
        {
            "method": "POST",
            "path": f"/{name}",
            "handler": f"{handler.module}:{handler.function}.{name}",
            **envelope,
        }
        for name in handler.methods
    ]


def _route(
    resource: Resource, handler: Handler, queue_based: bool, notes: list[str]
) -> dict[str, str] | None:
    target = f"{handler.module}:{handler.function}"
    if queue_based or (handler.method is None and handler.path is None):
        path = "/" + handler.function
        body = f'{{"{handler.first_parameter}": ...}}' if handler.first_parameter else "{}"
        notes.append(
            f"{handler.where}: {handler.function}() ran on a queue-based endpoint; it is served "
            f"as POST {path} on a load balancer: callers send {body} there instead of "
            '{"input": ...} to /run or /runsync (or keep sending {"input": ...}, answered '
            '{"id", "status": "COMPLETED", "output"} as /runsync answers: envelope: input)'
        )
        return {"method": "POST", "path": path, "handler": target, "envelope": "input"}
    if not isinstance(handler.method, str) or not isinstance(handler.path, str):
        notes.append(
            f"{handler.where}: {handler.function}(): method/path {_shown(handler.method)} "
            f"{_shown(handler.path)} not literal strings; skipped"
        )
        return None
    if resource.kind not in LOAD_BALANCERS and resource.kind != "Endpoint":
        notes.append(f"{handler.where}: {handler.function}(): {resource.kind} is not load-balanced")
    return {"method": handler.method.upper(), "path": handler.path, "handler": target}


def _endpoint_key(name: str, project: str) -> str:
    """A flash.yaml endpoint key from a RunPod endpoint name, short enough for the RunPod name
    `<project>-<key>` (at most 64 characters).

    >>> _endpoint_key("03_05_load_balancer_gpu", "demo")
    'load-balancer-gpu'
    """
    key = re.sub(r"[^a-z0-9]+", "-", name.lower())
    key = re.sub(r"^[^a-z]+", "", key)
    limit = min(32, NAME_MAX - len(project) - 1)
    key = key[:limit].strip("-")
    return key or "endpoint"


def _unique_key(key: str, taken: dict[str, Any]) -> str:
    candidate, number = key, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate = key[: 32 - len(suffix)] + suffix
        number += 1
    return candidate


def _position(note: str) -> tuple[str, int]:
    """Notes sort by file, then line: `workers/gpu.py:12: ...` -> ("workers/gpu.py", 12)."""
    file, _, rest = note.partition(":")
    line = rest.split(":", 1)[0]
    return file, int(line) if line.isdigit() else 0


def _shown(value: Any) -> str:
    if isinstance(value, Unknown):
        return value.source
    if isinstance(value, EnumRef):
        return f"{value.enum}.{value.member}"
    if isinstance(value, CallRef):
        return f"{value.function}(...)"
    return repr(value)
