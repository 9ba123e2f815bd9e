"""Every rendered manifest against Kubernetes' own schemas, offline (PyPI kubernetes-validate,
strict: an unknown field is an error), and read back the way kubectl reads YAML."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.kubernetes.manifests import endpoint_manifests
from flashctl.kubernetes.render import render_kubernetes
from flashctl.model import Project
from tests.conftest import EXAMPLE
from tests.kubernetes.conftest import (
    CPU,
    EVERY_FIELD,
    GPU,
    KUBERNETES_VERSIONS,
    documents,
    strict_errors,
)


def _load(path: Path, environment: str | None = None) -> Project:
    return load_valid_project(path, variables={}, environment=environment).project


@pytest.fixture(
    params=["example", "example-prod", "every-field", "cpu", "gpu"],
)
def project(request, make_project) -> Project:
    if request.param == "example":
        return _load(EXAMPLE)
    if request.param == "example-prod":
        return _load(EXAMPLE, "prod")
    if request.param == "every-field":
        return _load(EVERY_FIELD)
    return make_project(CPU if request.param == "cpu" else GPU)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_is_valid_for_kubernetes(project, version):
    errors = []
    for name, data in render_kubernetes(project).items():
        for manifest in documents(data):
            errors += [f"{name}: {e}" for e in strict_errors(manifest, version)]
    assert errors == []


def test_the_every_field_case_renders_every_kind():
    kinds = {
        d["kind"]
        for data in render_kubernetes(_load(EVERY_FIELD)).values()
        for d in documents(data)
    }
    assert kinds == {
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
    }


def test_kubectl_reads_back_exactly_the_manifests_flashctl_built(project):
    """YAML 1.1 (kubectl's dialect) turns unquoted on/yes/1:20 into other types: none sneaks in."""
    files = render_kubernetes(project)
    for endpoint in project.endpoints:
        assert documents(files[f"{endpoint.key}.yaml"]) == endpoint_manifests(project, endpoint)


def test_strict_validation_catches_what_it_should(make_project):
    """The validator has teeth: a misspelled field and a wrong type are both refused."""
    project = make_project(CPU)
    manifests = endpoint_manifests(project, project.endpoints[0])
    deployment = next(d for d in manifests if d["kind"] == "Deployment")
    misspelled = copy.deepcopy(deployment)
    misspelled["spec"]["replica"] = misspelled["spec"].pop("replicas")
    assert strict_errors(misspelled, KUBERNETES_VERSIONS[-1])
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    assert strict_errors(wrong_type, KUBERNETES_VERSIONS[-1])
