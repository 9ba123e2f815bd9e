"""The emulator's catalog query parameters over real HTTP, as RunPod's OpenAPI document defines
them for `/v2/catalog/gpus`, `/cpus` and `/datacenters`: filters narrow, `include` adds the
availability fields, forbidden combinations are 400s and malformed values 422s. Every answer is
checked against the official response schemas at teardown (the `emulator` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from flashctl import catalog
from flashctl.emulator.server import BackgroundEmulator
from tests.runpod.conftest import CANARY_KEY

LEVELS = {"NONE", "LOW", "MEDIUM", "HIGH"}


def _get(emulator: BackgroundEmulator, kind: str, **params: str) -> requests.Response:
    return requests.get(
        f"{emulator.url}/v2/catalog/{kind}",
        params=params,
        headers={"Authorization": f"Bearer {CANARY_KEY}"},
        timeout=5,
    )


def _ok(emulator: BackgroundEmulator, kind: str, **params: str) -> list[dict[str, Any]]:
    response = _get(emulator, kind, **params)
    assert response.status_code == 200, response.text
    key = {"gpus": "gpus", "cpus": "cpus", "datacenters": "dataCenters"}[kind]
    listed: list[dict[str, Any]] = response.json()[key]
    return listed


def test_without_include_the_gpus_carry_no_availability(emulator: BackgroundEmulator) -> None:
    gpus = _ok(emulator, "gpus")

    assert [g["id"] for g in gpus] == [g.id for g in catalog.GPU_TYPES]
    assert not any({"availability", "dataCenters", "cudaVersions"} & set(g) for g in gpus)


def test_include_availability_adds_levels_data_centers_and_cuda_versions(
    emulator: BackgroundEmulator,
) -> None:
    gpus = _ok(emulator, "gpus", include="AVAILABILITY", product="SERVERLESS")

    assert len(gpus) == len(catalog.GPU_TYPES)
    assert all(g["availability"] in LEVELS for g in gpus)
    for gpu in gpus:
        centers = gpu.get("dataCenters", [])
        # Only data centers that offer it, never listed as NONE; absent when none has stock.
        assert all(c["availability"] in LEVELS - {"NONE"} for c in centers)
        assert (gpu["availability"] == "NONE") == (not centers)
        assert all("." in v["version"] for v in gpu["cudaVersions"])


def test_country_codes_scope_the_data_centers_and_drop_types_offered_elsewhere(
    emulator: BackgroundEmulator,
) -> None:
    everywhere = _ok(emulator, "gpus", include="AVAILABILITY", product="POD")
    in_france = _ok(emulator, "gpus", include="AVAILABILITY", product="POD", countryCodes="FR")

    assert all(
        c["id"].startswith("EU-FR-") for gpu in in_france for c in gpu.get("dataCenters", [])
    )
    us_only = {g.id for g in catalog.GPU_TYPES if g.memory_gb >= 141}
    assert us_only and us_only <= {g["id"] for g in everywhere}
    assert not us_only & {g["id"] for g in in_france}


def test_cuda_filters_narrow_the_versions(emulator: BackgroundEmulator) -> None:
    def versions(**params: str) -> set[str]:
        gpus = _ok(emulator, "gpus", include="AVAILABILITY", product="POD", **params)
        return {v["version"] for g in gpus for v in g.get("cudaVersions", [])}

    assert versions(cudaVersions="12.8,12.6") == {"12.8", "12.6"}
    assert versions(minCudaVersion="12.4") == {"12.4", "12.6", "12.8"}
    assert "11.8" not in versions(minCudaVersion="12") and "12.1" in versions(minCudaVersion="12")


def test_a_count_beyond_the_clouds_largest_machine_is_unavailable(
    emulator: BackgroundEmulator,
) -> None:
    gpus = _ok(emulator, "gpus", include="AVAILABILITY", product="POD", cloud="COMMUNITY")
    big = [g for g in gpus if g["maxCount"]["community"] == 0]

    assert big and all(g["availability"] == "NONE" and "dataCenters" not in g for g in big)


@pytest.mark.parametrize(
    ("kind", "params", "status", "detail"),
    [
        ("gpus", {"product": "POD"}, 400, "product valid only with include=AVAILABILITY"),
        ("gpus", {"include": "AVAILABILITY"}, 400, "requires product"),
        ("gpus", {"count": "2"}, 400, "count valid only with include=AVAILABILITY"),
        (
            "gpus",
            {
                "include": "AVAILABILITY",
                "product": "POD",
                "cudaVersions": "12.8",
                "minCudaVersion": "12",
            },
            400,
            "mutually exclusive",
        ),
        (
            "gpus",
            {"include": "AVAILABILITY", "product": "POD", "countryCodes": "fr"},
            422,
            "countryCodes: fr is not an uppercase country code",
        ),
        (
            "gpus",
            {"include": "AVAILABILITY", "product": "POD", "cudaVersions": "12"},
            422,
            "cudaVersions: 12 is not MAJOR.MINOR",
        ),
        ("gpus", {"include": "STOCK"}, 422, "include: STOCK not one of AVAILABILITY"),
        ("gpus", {"include": "AVAILABILITY", "product": "POD", "count": "0"}, 422, "count"),
        ("cpus", {"vcpuCount": "4"}, 400, "vcpuCount valid only with include=AVAILABILITY"),
        (
            "cpus",
            {"include": "AVAILABILITY", "product": "POD", "vcpuCount": "6"},
            400,
            "power of two",
        ),
        ("cpus", {"include": "AVAILABILITY", "product": "CLUSTER"}, 422, "product: CLUSTER"),
        ("datacenters", {"regions": "MARS"}, 422, "regions: MARS not one of"),
        ("datacenters", {"globalNetwork": "yes"}, 422, "globalNetwork"),
    ],
)
def test_forbidden_or_malformed_queries_are_refused_as_runpod_does(
    emulator: BackgroundEmulator, kind: str, params: dict[str, str], status: int, detail: str
) -> None:
    response = _get(emulator, kind, **params)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]


def test_cpu_availability_follows_the_product(emulator: BackgroundEmulator) -> None:
    serverless = {
        c["id"]: c for c in _ok(emulator, "cpus", include="AVAILABILITY", product="SERVERLESS")
    }
    pods = {c["id"]: c for c in _ok(emulator, "cpus", include="AVAILABILITY", product="POD")}

    pods_only = [f.id for f in catalog.CPU_FLAVOR_TYPES if not f.serverless]
    assert pods_only
    for flavor in pods_only:
        assert serverless[flavor]["availability"] == "NONE"
        assert "dataCenters" not in serverless[flavor]
        assert pods[flavor]["availability"] != "NONE"
    assert "availability" not in _ok(emulator, "cpus")[0]


def test_data_center_filters_combine_as_documented(emulator: BackgroundEmulator) -> None:
    europe = _ok(emulator, "datacenters", regions="EUROPE")
    either = _ok(emulator, "datacenters", regions="EUROPE,ASIA")
    both_certified = _ok(emulator, "datacenters", compliance="GDPR,SOC_2_TYPE_2")
    global_net = _ok(emulator, "datacenters", globalNetwork="true")
    no_global = _ok(emulator, "datacenters", globalNetwork="false")
    both_volumes = _ok(emulator, "datacenters", networkVolumeTypes="STANDARD,HIGH_PERFORMANCE")
    everything = _ok(emulator, "datacenters")

    assert europe and all(dc["region"] == "EUROPE" for dc in europe)
    assert {dc["region"] for dc in either} == {"EUROPE", "ASIA"}  # OR within a filter
    assert both_certified and all(  # AND within a filter
        {"GDPR", "SOC_2_TYPE_2"} <= set(dc["compliance"]) for dc in both_certified
    )
    assert len(global_net) + len(no_global) == len(everything)
    assert all(dc["globalNetwork"] for dc in global_net)
    assert 0 < len(both_volumes) < len(everything)
    assert all("HIGH_PERFORMANCE" in dc["networkVolumeTypes"] for dc in both_volumes)
    assert not any({"gpuAvailability", "cpuAvailability"} & set(dc) for dc in everything)


def test_data_center_include_adds_gpu_and_cpu_availability(emulator: BackgroundEmulator) -> None:
    centers = {
        dc["id"]: dc
        for dc in _ok(emulator, "datacenters", include="GPU_AVAILABILITY,CPU_AVAILABILITY")
    }

    assert all(dc["cpuAvailability"] for dc in centers.values())
    us_only = {g.id for g in catalog.GPU_TYPES if g.memory_gb >= 141}
    offered_in_japan = {g["id"] for g in centers["AP-JP-1"]["gpuAvailability"]}
    offered_in_kansas = {g["id"] for g in centers["US-KS-2"]["gpuAvailability"]}
    assert us_only <= offered_in_kansas and not us_only & offered_in_japan
