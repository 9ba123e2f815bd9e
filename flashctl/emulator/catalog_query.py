"""The catalog's query parameters, read as RunPod's OpenAPI document defines them.

    GET /v2/catalog/gpus?include=AVAILABILITY&product=SERVERLESS&countryCodes=FR,DE&count=2
        &cloud=SECURE&cudaVersions=12.8,12.6 | &minCudaVersion=12
    GET /v2/catalog/cpus?include=AVAILABILITY&product=POD,SERVERLESS&vcpuCount=4
    GET /v2/catalog/datacenters?include=GPU_AVAILABILITY,CPU_AVAILABILITY&regions=EUROPE,ASIA
        &networkVolumeTypes=STANDARD&compliance=GDPR&globalNetwork=true

Lists are comma-separated (`style: form, explode: false`). A value that breaks its schema (not
in the enum, not matching the pattern, not an integer) is a 422; a combination the document
forbids is a 400: `product` without `include=AVAILABILITY` or the reverse, `count`, `cloud`,
`countryCodes`, `cudaVersions`, `minCudaVersion` or `vcpuCount` without it, `cudaVersions` with
`minCudaVersion`, a `vcpuCount` that is not a power of two. Unknown parameters are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_PRODUCTS = ("POD", "CLUSTER", "SERVERLESS")
_CPU_PRODUCTS = ("POD", "SERVERLESS")
_REGIONS = (
    "NORTH_AMERICA",
    "SOUTH_AMERICA",
    "EUROPE",
    "ASIA",
    "MIDDLE_EAST",
    "AFRICA",
    "OCEANIA",
    "ANTARCTICA",
    "UNKNOWN",
)
_VOLUME_TYPES = ("STANDARD", "HIGH_PERFORMANCE")
_COMPLIANCE = (
    "GDPR",
    "ISO_IEC_27001",
    "ISO_14001",
    "PCI_DSS",
    "HITRUST",
    "SOC_1_TYPE_2",
    "SOC_2_TYPE_2",
    "SOC_3_TYPE_2",
    "ITAR",
    "FISMA_HIGH",
    "HIPAA",
    "RENEWABLE",
)
_COUNTRY = re.compile(r"[A-Z]{2}")
_CUDA_EXACT = re.compile(r"\d+\.\d+")
_CUDA_FLOOR = re.compile(r"\d+(\.\d+)?")


class QueryError(ValueError):
    """A query RunPod refuses: `status` 400 or 422, and the detail to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class GpuQuery:
    include: bool = False  # include=AVAILABILITY
    products: tuple[str, ...] = ()
    count: int = 1
    cloud: str = "SECURE"
    countries: tuple[str, ...] = ()
    cuda_versions: tuple[str, ...] = ()
    min_cuda: str | None = None


@dataclass(frozen=True)
class CpuQuery:
    include: bool = False
    products: tuple[str, ...] = ()
    vcpus: int | None = None


@dataclass(frozen=True)
class DataCenterQuery:
    include: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    volume_types: tuple[str, ...] = ()
    compliance: tuple[str, ...] = ()
    global_network: bool | None = None


def gpu_query(params: Mapping[str, str]) -> GpuQuery:
    """`GET /v2/catalog/gpus`'s parameters.

    >>> query = gpu_query({"include": "AVAILABILITY", "product": "SERVERLESS", "count": "2"})
    >>> query.include, query.products, query.count, query.cloud
    (True, ('SERVERLESS',), 2, 'SECURE')
    """
    include = _include(params, ("AVAILABILITY",), max_items=1)
    products = _enum_list(params, "product", _PRODUCTS)
    _availability_only(
        params,
        bool(include),
        ("count", "cloud", "countryCodes", "cudaVersions", "minCudaVersion"),
        product=bool(products),
    )
    if "cudaVersions" in params and "minCudaVersion" in params:
        raise QueryError(400, "cudaVersions and minCudaVersion are mutually exclusive")
    count = _integer(params, "count", minimum=1)
    cloud = params.get("cloud", "SECURE")
    if cloud not in ("SECURE", "COMMUNITY"):
        raise QueryError(422, f"cloud: {cloud!r} is not one of SECURE, COMMUNITY")
    min_cuda = params.get("minCudaVersion")
    if min_cuda is not None and not _CUDA_FLOOR.fullmatch(min_cuda):
        raise QueryError(422, f"minCudaVersion: {min_cuda!r} is not MAJOR or MAJOR.MINOR")
    return GpuQuery(
        include=bool(include),
        products=products,
        count=1 if count is None else count,
        cloud=cloud,
        countries=_pattern_list(params, "countryCodes", _COUNTRY, "an uppercase country code"),
        cuda_versions=_pattern_list(params, "cudaVersions", _CUDA_EXACT, "MAJOR.MINOR"),
        min_cuda=min_cuda,
    )


def cpu_query(params: Mapping[str, str]) -> CpuQuery:
    """`GET /v2/catalog/cpus`'s parameters."""
    include = _include(params, ("AVAILABILITY",), max_items=1)
    products = _enum_list(params, "product", _CPU_PRODUCTS)
    _availability_only(params, bool(include), ("vcpuCount",), product=bool(products))
    vcpus = _integer(params, "vcpuCount", minimum=2)
    if vcpus is not None and vcpus & (vcpus - 1):
        raise QueryError(400, f"vcpuCount must be a power of two, got {vcpus}")
    return CpuQuery(include=bool(include), products=products, vcpus=vcpus)


def data_center_query(params: Mapping[str, str]) -> DataCenterQuery:
    """`GET /v2/catalog/datacenters`'s parameters."""
    flag = params.get("globalNetwork")
    if flag is not None and flag not in ("true", "false"):
        raise QueryError(422, f"globalNetwork: {flag!r} is not true or false")
    return DataCenterQuery(
        include=_include(params, ("GPU_AVAILABILITY", "CPU_AVAILABILITY")),
        regions=_enum_list(params, "regions", _REGIONS),
        volume_types=_enum_list(params, "networkVolumeTypes", _VOLUME_TYPES),
        compliance=_enum_list(params, "compliance", _COMPLIANCE),
        global_network=None if flag is None else flag == "true",
    )


def _items(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = params.get(name)
    if raw is None:
        return ()
    items = tuple(item.strip() for item in raw.split(","))
    if not all(items):
        raise QueryError(422, f"{name}: empty entry in {raw!r}")
    return items


def _enum_list(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = _items(params, name)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise QueryError(422, f"{name}: {', '.join(unknown)} not one of {', '.join(allowed)}")
    return items


def _include(
    params: Mapping[str, str], allowed: tuple[str, ...], max_items: int | None = None
) -> tuple[str, ...]:
    items = _enum_list(params, "include", allowed)
    if max_items is not None and len(items) > max_items:
        raise QueryError(422, f"include: at most {max_items} value(s)")
    return items


def _pattern_list(
    params: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str
) -> tuple[str, ...]:
    items = _items(params, name)
    malformed = [item for item in items if not pattern.fullmatch(item)]
    if malformed:
        raise QueryError(422, f"{name}: {', '.join(malformed)} is not {what}")
    return items


def _integer(params: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise QueryError(422, f"{name}: {raw!r} is not an integer >= {minimum}")
    return int(raw)


def _availability_only(
    params: Mapping[str, str], include: bool, names: tuple[str, ...], *, product: bool
) -> None:
    if include and not product:
        raise QueryError(400, "include=AVAILABILITY requires product (POD, SERVERLESS, ...)")
    if not include:
        given = [name for name in ("product", *names) if name in params]
        if given:
            raise QueryError(400, f"{', '.join(given)} valid only with include=AVAILABILITY")
