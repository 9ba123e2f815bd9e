"""The emulator's own schemas of RunPod's create and update bodies, and RunPod's 400 rules.

Written from RunPod's OpenAPI document (`CreateEndpointRequest`, `UpdateEndpointRequest`); the
document itself is not shipped, so these are hand-flattened copies. A body that breaks a schema
gets RunPod's 422 ("Request validation failed." plus one line per failure); a body that is
well-formed but breaks a rule the API checks in code (both `gpu` and `cpu`, an unknown pool,
min > max, more workers than the account's quota, ...) gets RunPod's 400. The test suite checks
these schemas against the document.

An integer is a JSON number without a fraction or exponent part (`2`, not `2.0` or `1e308`), as
RunPod's typed decoder reads one; jsonschema alone would take `2.0`.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, validators

from flashctl.emulator import catalog
from flashctl.emulator.state import DEFAULT_WORKERS

# The emulated account's worker quota: workers.max summed over its endpoints. RunPod's "total
# workers" limit is per account and much lower by default; raising it takes a support ticket.
WORKER_QUOTA = 1000

_STRINGS = {"type": "array", "items": {"type": "string"}}
_CUDA_VERSION = {"type": "string", "pattern": r"^\d+\.\d+$"}
_FLASHBOOT = {"type": "string", "enum": ["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"]}
_WORKERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "min": {"type": "integer", "minimum": 0},
        "max": {"type": "integer", "minimum": 0},
        "idleTimeout": {"type": "integer", "minimum": 1, "maximum": 3600},
    },
}
_REQUEST_COUNT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "requestCount"],
    "properties": {
        "type": {"type": "string", "enum": ["REQUEST_COUNT"]},
        "requestCount": {"type": "integer", "minimum": 1},
    },
}
_QUEUE_DELAY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "queueDelay"],
    "properties": {
        "type": {"type": "string", "enum": ["QUEUE_DELAY"]},
        "queueDelay": {"type": "number", "minimum": 0.5},
    },
}
_SCALING = {"oneOf": [_QUEUE_DELAY, _REQUEST_COUNT]}
_CPUS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "vcpuCount"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "vcpuCount": {"type": "integer", "minimum": 2},
        },
    },
}
_GPU_SELECTION = {
    "pools": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    "excludedTypes": {
        "type": "array",
        "uniqueItems": True,
        "items": {"type": "string", "pattern": r"^\s*[^-\s]"},
    },
    "count": {"type": "integer", "minimum": 1},
    "allowedCudaVersions": {"type": "array", "items": _CUDA_VERSION},
}
_CONTAINER = {
    "args": {"type": "string"},
    "disk": {"type": "integer", "minimum": 1},
    "env": {"type": "object", "additionalProperties": {"type": "string"}},
    "image": {"type": "string"},
    "ports": _STRINGS,
    "registry": {"type": ["string", "null"]},
}
_COMMON = {
    **_CONTAINER,
    "cpu": _CPUS,
    "dataCenterIds": _STRINGS,
    "flashboot": _FLASHBOOT,
    "networkVolumes": _STRINGS,
    "scaling": _SCALING,
    "timeout": {"type": "integer"},
    "workers": _WORKERS,
}

CREATE_ENDPOINT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "type", "scaling"],
    "properties": {
        **_COMMON,
        "name": {"type": "string", "minLength": 1},
        "type": {"type": "string", "enum": ["QUEUE", "LOAD_BALANCER"]},
        "templateId": {"type": "string", "minLength": 1},
        "gpu": {
            "type": "object",
            "additionalProperties": False,
            "required": ["pools"],
            "properties": {**_GPU_SELECTION, "minCudaVersion": _CUDA_VERSION},
        },
    },
    "allOf": [
        {"if": {"not": {"required": ["templateId"]}}, "then": {"required": ["image"]}},
        {
            # A load balancer can only scale on in-flight requests.
            "if": {"required": ["type"], "properties": {"type": {"const": "LOAD_BALANCER"}}},
            "then": {"properties": {"scaling": _REQUEST_COUNT}},
        },
    ],
}

UPDATE_ENDPOINT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,  # `type` is not updatable: changing it means a new endpoint
    "properties": {
        **_COMMON,
        "name": {"type": "string", "minLength": 1},
        "templateId": {"type": "string"},
        "gpu": {
            "type": "object",
            "additionalProperties": False,
            "dependentRequired": {"excludedTypes": ["pools"]},
            # "" clears the floor on update.
            "properties": {
                **_GPU_SELECTION,
                "minCudaVersion": {"type": "string", "pattern": r"^$|^\d+\.\d+$"},
            },
        },
    },
}


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
_CREATE = _Validator(CREATE_ENDPOINT_SCHEMA)
_UPDATE = _Validator(UPDATE_ENDPOINT_SCHEMA)


def schema_errors(body: Any, *, create: bool) -> list[str]:
    """One line per schema failure, in RunPod's style: `$.workers.min: -1 is less than ...`."""
    validator = _CREATE if create else _UPDATE
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_json_path(error.absolute_path)}: {error.message}" for error in errors]


def create_rule_errors(body: dict[str, Any], *, other_workers: int = 0) -> list[str]:
    """RunPod's 400s for a schema-valid create body; `other_workers`: the workers.max of the
    account's endpoints, summed."""
    problems = []
    if ("gpu" in body) == ("cpu" in body):
        problems.append("exactly one of gpu or cpu must be given")
    problems += _compute_errors(body)
    workers = body.get("workers", {})
    problems += _workers_errors(workers, body["type"], body["scaling"])
    problems += _quota_errors({**DEFAULT_WORKERS, **workers}["max"], other_workers)
    return problems


def update_rule_errors(
    body: dict[str, Any], endpoint: dict[str, Any], *, other_workers: int = 0
) -> list[str]:
    """RunPod's 400s for a schema-valid update of `endpoint` (its current document);
    `other_workers`: the workers.max of the account's other endpoints, summed."""
    problems = []
    if "gpu" in body and "cpu" in body:
        problems.append("gpu and cpu cannot both be given")
    elif "gpu" in body and endpoint.get("gpu") is None:
        problems.append("gpu cannot be set on a CPU endpoint: the compute family is fixed")
    elif "cpu" in body and endpoint.get("gpu") is not None:
        problems.append("cpu cannot be set on a GPU endpoint: the compute family is fixed")
    scaling = body.get("scaling", endpoint["scaling"])
    if endpoint["type"] == "LOAD_BALANCER" and scaling["type"] != "REQUEST_COUNT":
        problems.append("scaling: a LOAD_BALANCER endpoint must scale on REQUEST_COUNT")
    problems += _compute_errors(body, endpoint.get("gpu"))
    workers = {**endpoint["workers"], **body.get("workers", {})}
    problems += _workers_errors(workers, endpoint["type"], scaling, given=body.get("workers", {}))
    if "max" in body.get("workers", {}):
        problems += _quota_errors(workers["max"], other_workers)
    return problems


def _quota_errors(wanted: int, others: int) -> list[str]:
    if wanted + others <= WORKER_QUOTA:
        return []
    return [
        f"workers.max ({wanted}) is more than the account's worker quota leaves: "
        f"{max(0, WORKER_QUOTA - others)} of {WORKER_QUOTA} (workers.max summed over endpoints)"
    ]


def _compute_errors(body: dict[str, Any], current_gpu: dict[str, Any] | None = None) -> list[str]:
    problems = []
    gpu = body.get("gpu")
    if isinstance(gpu, dict):
        pools = gpu.get("pools", (current_gpu or {}).get("pools", []))
        known = ", ".join(sorted(catalog.GPU_POOLS))
        for pool in pools:
            if pool not in catalog.GPU_POOLS:
                problems.append(f"gpu.pools: unknown pool {pool!r}; known: {known}")
        in_pools = {t for pool in pools for t in catalog.GPU_POOLS.get(pool, [])}
        excluded = {t.strip() for t in gpu.get("excludedTypes", [])}
        for type_id in sorted(excluded - in_pools):
            problems.append(f"gpu.excludedTypes: {type_id!r} is not a GPU type in the given pools")
        if in_pools and not in_pools - excluded:
            problems.append("gpu.excludedTypes leaves no GPU type in the given pools")
        if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
            problems.append("gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive")
    for index, cpu in enumerate(body.get("cpu", [])):
        flavor = catalog.CPU_FLAVORS.get(cpu["id"])
        if flavor is None:
            problems.append(
                f"cpu[{index}].id: unknown CPU flavor {cpu['id']!r}; "
                f"known: {', '.join(sorted(catalog.CPU_FLAVORS))}"
            )
            continue
        count = cpu["vcpuCount"]
        if count & (count - 1) or count > flavor[0]:
            problems.append(
                f"cpu[{index}].vcpuCount: {count} is not a power of two up to {flavor[0]}"
            )
    for dc_id in body.get("dataCenterIds", []):
        if dc_id not in catalog.DATA_CENTER_IDS:
            problems.append(f"dataCenterIds: unknown data center {dc_id!r}")
    return problems


def _workers_errors(
    workers: dict[str, Any],
    endpoint_type: str,
    scaling: dict[str, Any],
    given: dict[str, Any] | None = None,
) -> list[str]:
    problems = []
    low, high = workers.get("min", 0), workers.get("max", DEFAULT_WORKERS["max"])
    if low > high:
        problems.append(f"workers.min ({low}) is greater than workers.max ({high})")
    idle_given = "idleTimeout" in (workers if given is None else given)
    if endpoint_type == "QUEUE" and scaling["type"] == "REQUEST_COUNT" and idle_given:
        problems.append(
            "workers.idleTimeout does not apply to a queue-based endpoint scaling on REQUEST_COUNT"
        )
    return problems


def _json_path(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
