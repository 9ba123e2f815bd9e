"""The JSON Schema: valid 2020-12, self-describing, and the only source of defaults."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from flashctl.model import build_project
from flashctl.schema.checker import load_schema, with_defaults


def walk_properties(schema: dict[str, Any], where: str = ""):
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}.{name}", name, sub, name in schema.get("required", [])
        yield from walk_properties(sub, f"{where}.{name}")
        if isinstance(sub.get("items"), dict):
            yield from walk_properties(sub["items"], f"{where}.{name}[]")
        for option in sub.get("anyOf", []):
            yield from walk_properties(option, f"{where}.{name}")
    for name, sub in schema.get("$defs", {}).items():
        yield from walk_properties(sub, f"$defs.{name}")


def test_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(load_schema())


def test_every_field_has_a_description_and_every_optional_field_a_default():
    missing = []
    for where, _name, sub, required in walk_properties(load_schema()):
        if "description" not in sub:
            missing.append(f"{where}: description")
        if not required and "default" not in sub:
            missing.append(f"{where}: default")
    assert missing == []


def test_unknown_keys_are_rejected_everywhere():
    for where, _name, sub, _ in walk_properties(load_schema()):
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, where


def test_model_defaults_are_the_schema_defaults(tmp_path):
    data = {
        "version": 1,
        "project": "p",
        "endpoints": {"api": {"routes": [{"method": "get", "path": "/", "handler": "m:f"}]}},
    }
    project = build_project(data, file="f", base_dir=tmp_path, environment=None)
    api = project.endpoint("api")
    fields = load_schema()["$defs"]["endpointFields"]["properties"]
    runtime = fields["runtime"]["properties"]
    scaling = fields["scaling"]["properties"]
    assert api.runtime.port == runtime["port"]["default"]
    assert api.runtime.server == runtime["server"]["default"]
    assert api.runtime.max_body == 30_000_000  # "30MB", the schema default, normalized
    assert api.scaling.idle_timeout == scaling["idle_timeout"]["default"]
    assert api.scaling.workers_max == scaling["workers"]["properties"]["max"]["default"]
    assert api.python == fields["python"]["default"]
    assert api.base_image == f"python:{api.python}-slim"
    assert api.routes[0].method == "GET"
    assert with_defaults({}, fields["compute"])["disk_gb"] == api.compute.disk_gb


def test_runpod_name_includes_the_environment(tmp_path):
    data = {
        "version": 1,
        "project": "shop",
        "endpoints": {"api": {"routes": [{"method": "GET", "path": "/", "handler": "m:f"}]}},
    }
    project = build_project(data, file="f", base_dir=tmp_path, environment="prod")
    assert project.endpoint("api").runpod_name == "shop-api-prod"
