"""Kubernetes' name, label and quantity rules as the `kubernetes` check applies them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from flashctl.kubernetes import names
from flashctl.kubernetes.resources import conflicts, parse_quantity, resource_name


@pytest.mark.parametrize("good", ["default", "ml-serving", "a", "0ns", "x" * 63])
def test_namespaces_kubernetes_accepts(good):
    assert names.dns_label(good) is None


@pytest.mark.parametrize("bad", ["ML", "ml_serving", "-ml", "ml-", "ml.serving", "", "x" * 64])
def test_namespaces_kubernetes_refuses(bad):
    assert names.dns_label(bad) is not None


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("pool", True),
        ("nvidia.com/gpu.present", True),
        ("cloud.google.com/gke-accelerator", True),
        ("Node_Type.v2", True),
        ("-pool", False),
        ("example.com/", False),
        ("/pool", False),
        ("Example.com/pool", False),
        ("a/b/c", False),
        ("x" * 64, False),
    ],
)
def test_label_keys(key, ok):
    assert (names.qualified_name(key) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("nvidia-l4", True), ("true", True), ("a b", False), ("-a", False)],
)
def test_label_values(value, ok):
    assert (names.label_value(value) is None) is ok


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("api.example.com", True),
        ("*.example.com", True),
        ("https://api.example.com", False),
        ("api.example.com:443", False),
        ("api.example.com/v1", False),
        ("10.0.0.1", False),
        ("API.example.com", False),
    ],
)
def test_ingress_hosts(host, ok):
    assert (names.host(host) is None) is ok


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", Fraction(2)),
        ("500m", Fraction(1, 2)),
        ("0.5", Fraction(1, 2)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("4G", Fraction(4 * 10**9)),
        ("1e3", Fraction(1000)),
        (".5", Fraction(1, 2)),
        ("2 GB", None),
        ("4GB", None),
        ("-1", None),
        ("", None),
        ("1.2.3", None),
    ],
)
def test_quantities(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("cpu", True),
        ("memory", True),
        ("ephemeral-storage", True),
        ("hugepages-2Mi", True),
        ("nvidia.com/gpu", True),
        ("amd.com/gpu", True),
        ("gpu", False),
        ("storage", False),
    ],
)
def test_resource_names(name, ok):
    assert (resource_name(name) is None) is ok


def test_requests_above_limits_and_unequal_extended_resources_conflict():
    assert conflicts({"requests": {"memory": "1Gi"}, "limits": {"memory": "1024Mi"}}) == []
    assert conflicts({"requests": {"cpu": "1"}, "limits": {}}) == []  # no limit: no cap
    assert [n for n, _ in conflicts({"requests": {"cpu": "1500m"}, "limits": {"cpu": "1"}})] == [
        "cpu"
    ]
    gpu = conflicts({"requests": {"nvidia.com/gpu": "1"}, "limits": {}})
    assert gpu == [
        ("nvidia.com/gpu", "requests.nvidia.com/gpu needs a limit too: set limits.nvidia.com/gpu")
    ]
