"""defaults: and environments: deep-merged, keeping the positions of where values came from."""

from __future__ import annotations

from flashctl.compiler.loader import load_text
from flashctl.compiler.overlay import apply_overlays

TEXT = """\
defaults:
  python: "3.12"
  compute: {gpu: {pools: [ADA_24]}}
  scaling: {workers: {min: 0, max: 3}}
endpoints:
  api:
    scaling: {workers: {max: 5}}
  cpu:
    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}
environments:
  prod:
    endpoints:
      api: {scaling: {workers: {min: 2}}}
"""


def test_defaults_merge_under_each_endpoint_and_endpoint_values_win():
    doc, _ = load_text(TEXT, "f.yaml")
    merged = apply_overlays(doc, None).data["endpoints"]
    assert merged["api"]["python"] == "3.12"
    assert merged["api"]["scaling"] == {"workers": {"min": 0, "max": 5}}


def test_environment_overlay_merges_over_the_endpoint():
    doc, _ = load_text(TEXT, "f.yaml")
    merged = apply_overlays(doc, "prod").data["endpoints"]
    assert merged["api"]["scaling"] == {"workers": {"min": 2, "max": 5}}
    assert apply_overlays(doc, None).data["endpoints"]["api"]["scaling"]["workers"]["min"] == 0


def test_cpu_on_an_endpoint_replaces_gpu_inherited_from_defaults():
    doc, _ = load_text(TEXT, "f.yaml")
    merged = apply_overlays(doc, None).data["endpoints"]
    assert merged["cpu"]["compute"] == {"cpu": [{"flavor": "cpu5c", "vcpus": 2}]}
    assert "gpu" in merged["api"]["compute"]


def test_merged_values_point_at_the_layer_they_came_from():
    doc, _ = load_text(TEXT, "f.yaml")
    effective = apply_overlays(doc, "prod")
    assert effective.positions[("endpoints", "api", "python")].line == 2
    assert effective.positions[("endpoints", "api", "scaling", "workers", "max")].line == 7
    assert effective.positions[("endpoints", "api", "scaling", "workers", "min")].line == 13
