"""The project model: immutable, typed, normalized values built from a schema-valid document.

Defaults come from the JSON Schema (`schema.with_defaults`), sizes are bytes, durations seconds,
methods upper case. Endpoints keep their key and routes their JSON path
(`("endpoints", key, "routes", index)`), so checks can find their position in the document.

The records are NamedTuples rather than frozen dataclasses: as immutable, and defined in a tenth
of the time (Python 3.11 compiles six methods per frozen dataclass, ~2 ms each; B4 start-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from flashctl.compiler.units import parse_size
from flashctl.problems import JsonPath
from flashctl.schema.checker import inlined_schema, with_defaults

RATE_WINDOWS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
FLASHBOOT = {"off": "OFF", "on": "FLASHBOOT", "priority": "PRIORITY_FLASHBOOT"}


class Route(NamedTuple):
    at: JsonPath  # ("endpoints", key, "routes", index): where the route is in the document
    method: str
    path: str
    handler: str
    timeout: float | None
    max_body: int | None
    summary: str | None
    envelope: str | None = None  # "input": RunPod's {"input": {...}} is taken too
    batch: Batch | None = None

    @property
    def module(self) -> str:
        return self.handler.partition(":")[0]

    @property
    def function(self) -> str:
        return self.handler.partition(":")[2]


class Batch(NamedTuple):
    """A route's `batch:` (dynamic batching)."""

    max_size: int
    max_wait_ms: float
    concurrency: int


class Gpu(NamedTuple):
    pools: tuple[str, ...]
    per_worker: int  # `count:`, GPUs per worker
    exclude: tuple[str, ...]
    min_cuda: str | None
    cuda_versions: tuple[str, ...]  # exact versions (RunPod's allowedCudaVersions)


class CpuInstance(NamedTuple):
    flavor: str
    vcpus: int


class Compute(NamedTuple):
    gpu: Gpu | None
    cpu: tuple[CpuInstance, ...]
    disk_gb: int
    data_centers: tuple[str, ...]
    network_volumes: tuple[str, ...]


class Scaling(NamedTuple):
    workers_min: int
    workers_max: int
    idle_timeout: int
    request_count: int
    flashboot: str  # off | on | priority


class RateLimit(NamedTuple):
    requests: int
    per_seconds: float


class RuntimeSettings(NamedTuple):
    port: int
    health_path: str | None  # RunPod's HEALTH_CHECK_PATH; None: /ping
    server: str
    workers: int
    request_timeout: float | None  # None: no cap of the service's own (RunPod's still applies)
    max_body: int
    body_timeout: float
    max_concurrency: int
    trusted_proxies: int
    rate_limit: RateLimit | None
    startup: str | None
    docs: bool
    metrics: bool
    unknown_keys: str = "reject"  # reject | ignore


class EnvVar(NamedTuple):
    name: str
    value: str | None = None
    secret: str | None = None

    @property
    def rendered(self) -> str:
        """The value RunPod receives: literal text, or a reference RunPod resolves to the secret."""
        if self.secret is not None:
            return "{{ RUNPOD_SECRET_" + self.secret + " }}"
        return self.value or ""


class Toleration(NamedTuple):
    key: str | None
    operator: str  # Equal | Exists
    value: str | None
    effect: str | None  # NoSchedule | PreferNoSchedule | NoExecute | None (every effect)
    seconds: int | None


class Ingress(NamedTuple):
    host: str | None
    class_name: str | None
    tls_secret: str | None


class KubernetesSettings(NamedTuple):
    """The `kubernetes:` block. Mappings are sorted `(name, value)` pairs; `node_selector` and
    `tolerations` are None when not given, so the target derives them from `compute`."""

    namespace: str | None
    secret_name: str | None
    requests: tuple[tuple[str, str], ...]
    limits: tuple[tuple[str, str], ...]
    node_selector: tuple[tuple[str, str], ...] | None
    tolerations: tuple[Toleration, ...] | None
    image_pull_secrets: tuple[str, ...]
    startup_timeout: int
    ingress: Ingress


class RegistryAuth(NamedTuple):
    """`registry_auth`: a RunPod registry credential by name. With the env names, apply creates
    it (from those variables' values) when RunPod has none of that name; without, it must exist.
    """

    name: str
    username_env: str | None = None
    password_env: str | None = None

    @property
    def creatable(self) -> bool:
        return self.username_env is not None and self.password_env is not None


class Endpoint(NamedTuple):
    key: str
    runpod_name: str
    type: str
    source: str
    source_dir: Path
    python: str
    base_image: str
    image: str | None
    registry: str | None  # where `flashctl build` pushes when `image` is omitted
    registry_auth: RegistryAuth | None  # the credential RunPod pulls a private image with
    args: str  # RunPod's container `args`; "" runs the image's command
    dependencies: tuple[str, ...]
    system_dependencies: tuple[str, ...]
    compute: Compute
    scaling: Scaling
    runtime: RuntimeSettings
    env: tuple[EnvVar, ...]
    routes: tuple[Route, ...]
    kubernetes: KubernetesSettings
    app: str | None = None  # "module:attribute" of a whole ASGI app, served instead of routes


class Slo(NamedTuple):
    p50_ms: float
    p95_ms: float
    p99_ms: float | None
    success_rate: float


class Project(NamedTuple):
    name: str
    environment: str | None
    file: str
    base_dir: Path
    endpoints: tuple[Endpoint, ...]
    slo: Slo
    budget_per_hour: float | None  # `budget.max_per_hour`, USD

    def endpoint(self, key: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.key == key:
                return endpoint
        raise KeyError(key)


def runpod_name(project: str, endpoint: str, environment: str | None) -> str:
    """`<project>-<endpoint>[-<environment>]`, the name that identifies an endpoint on RunPod."""
    return "-".join(part for part in (project, endpoint, environment) if part)


def build_project(
    data: dict[str, Any],
    *,
    file: str,
    base_dir: Path,
    environment: str | None,
) -> Project:
    """The model of a schema-valid document."""
    schema = inlined_schema()
    name = data["project"]
    endpoints = tuple(
        _endpoint(key, raw, name, environment, base_dir) for key, raw in data["endpoints"].items()
    )
    slo = with_defaults(data.get("slo", {}), schema["properties"]["slo"])
    return Project(
        name=name,
        environment=environment,
        file=file,
        base_dir=base_dir,
        endpoints=endpoints,
        slo=Slo(slo["p50_ms"], slo["p95_ms"], slo["p99_ms"], slo["success_rate"]),
        budget_per_hour=(data.get("budget") or {}).get("max_per_hour"),
    )


def _endpoint(
    key: str, raw: dict[str, Any], project: str, environment: str | None, base_dir: Path
) -> Endpoint:
    e = with_defaults(raw, inlined_schema()["$defs"]["endpointFields"])
    source = e["source"] or "."
    compute, scaling, runtime = e["compute"], e["scaling"], e["runtime"]
    gpu = compute["gpu"]
    rate = runtime["rate_limit"]
    return Endpoint(
        key=key,
        runpod_name=runpod_name(project, key, environment),
        type=e["type"],
        source=source,
        source_dir=Path(os.path.normpath(base_dir.absolute() / source)),
        python=e["python"],
        base_image=e["base_image"] or f"python:{e['python']}-slim",
        image=e["image"],
        registry=e["registry"],
        registry_auth=_registry_auth(e["registry_auth"]),
        args=e["args"],
        dependencies=tuple(e["dependencies"]),
        system_dependencies=tuple(e["system_dependencies"]),
        compute=Compute(
            gpu=Gpu(
                tuple(gpu["pools"]),
                gpu["count"],
                tuple(gpu["exclude"]),
                gpu["min_cuda"],
                tuple(gpu["cuda_versions"]),
            )
            if gpu
            else None,
            cpu=tuple(CpuInstance(c["flavor"], c["vcpus"]) for c in compute["cpu"] or ()),
            disk_gb=compute["disk_gb"],
            data_centers=tuple(compute["data_centers"]),
            network_volumes=tuple(compute["network_volumes"]),
        ),
        scaling=Scaling(
            workers_min=scaling["workers"]["min"],
            workers_max=scaling["workers"]["max"],
            idle_timeout=scaling["idle_timeout"],
            request_count=scaling["request_count"],
            flashboot=scaling["flashboot"],
        ),
        runtime=RuntimeSettings(
            port=runtime["port"],
            health_path=runtime["health_path"],
            server=runtime["server"],
            workers=runtime["workers"],
            request_timeout=None
            if runtime["request_timeout"] is None
            else float(runtime["request_timeout"]),
            max_body=parse_size(runtime["max_body"]),
            body_timeout=float(runtime["body_timeout"]),
            max_concurrency=runtime["max_concurrency"],
            trusted_proxies=runtime["trusted_proxies"],
            rate_limit=RateLimit(rate["requests"], RATE_WINDOWS[rate["per"]]) if rate else None,
            startup=runtime["startup"],
            docs=runtime["docs"],
            metrics=runtime["metrics"],
            unknown_keys=runtime["unknown_keys"],
        ),
        env=tuple(_env_var(name, value) for name, value in e["env"].items()),
        routes=tuple(
            Route(
                at=("endpoints", key, "routes", i),
                method=str(r["method"]).upper(),
                path=r["path"],
                handler=r["handler"],
                timeout=None if r["timeout"] is None else float(r["timeout"]),
                max_body=None if r["max_body"] is None else parse_size(r["max_body"]),
                summary=r["summary"],
                envelope=r["envelope"],
                batch=_batch(r["batch"]),
            )
            for i, r in enumerate(e["routes"])
            if r is not None  # set aside by schema.without_invalid; indices stay file positions
        ),
        kubernetes=_kubernetes(e["kubernetes"]),
        app=e["app"],
    )


def _batch(b: dict[str, Any] | None) -> Batch | None:
    if b is None:
        return None
    return Batch(b["max_size"], float(b["max_wait_ms"]), b["concurrency"])


def _kubernetes(k: dict[str, Any]) -> KubernetesSettings:
    selector, tolerations, ingress = k["node_selector"], k["tolerations"], k["ingress"]
    return KubernetesSettings(
        namespace=k["namespace"],
        secret_name=k["secret_name"],
        requests=_pairs(k["resources"]["requests"]),
        limits=_pairs(k["resources"]["limits"]),
        node_selector=None if selector is None else _pairs(selector),
        tolerations=None
        if tolerations is None
        else tuple(
            Toleration(
                key=t["key"],
                operator=t["operator"],
                value=None if t["value"] is None else _text(t["value"]),
                effect=t["effect"],
                seconds=t["toleration_seconds"],
            )
            for t in tolerations
        ),
        image_pull_secrets=tuple(k["image_pull_secrets"]),
        startup_timeout=k["startup_timeout"],
        ingress=Ingress(ingress["host"], ingress["class_name"], ingress["tls_secret"]),
    )


def _pairs(mapping: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(name), _text(value)) for name, value in mapping.items()))


def _text(value: Any) -> str:
    """A scalar as Kubernetes expects it in a string field (YAML `true` -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _env_var(name: str, value: Any) -> EnvVar:
    if isinstance(value, dict):
        return EnvVar(name, secret=value["secret"])
    return EnvVar(name, _text(value))


def _registry_auth(raw: str | dict[str, str] | None) -> RegistryAuth | None:
    """`registry_auth` read: a name alone, or a name with the env variables that hold the login.

    >>> _registry_auth("acme"), _registry_auth({"name": "a", "username_env": "U",
    ...     "password_env": "P"}).creatable
    (RegistryAuth(name='acme', username_env=None, password_env=None), True)
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        return RegistryAuth(raw)
    return RegistryAuth(raw["name"], raw["username_env"], raw["password_env"])
