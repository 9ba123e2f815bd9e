"""docs/flash-yaml.md is generated from the JSON Schema and kept fresh."""

from __future__ import annotations

from flashctl.schema.checker import load_schema
from flashctl.schema.reference import GENERATED_BY, markdown
from tests.conftest import ROOT

REFERENCE = ROOT / "docs" / "flash-yaml.md"


def test_committed_reference_matches_the_schema(run_cli):
    result = run_cli("schema", "--format", "markdown")
    assert result.exit_code == 0, result
    assert REFERENCE.read_text(encoding="utf-8") == result.stdout, (
        f"docs/flash-yaml.md is stale: run `{GENERATED_BY}`"
    )


def test_reference_documents_every_description_of_the_schema():
    text = markdown(load_schema()).replace("\\|", "|").replace("&lt;", "<")
    missing = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            description = node.get("description")
            if isinstance(description, str) and " ".join(description.split()) not in text:
                missing.append(description)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_schema())
    assert missing == []


def test_reference_has_a_row_per_field_with_type_and_default():
    text = markdown(load_schema())
    assert "| `scaling.workers.max` | integer | `3` |" in text
    assert "| `compute.cpu[].vcpus` | integer | required |" in text
    assert "| `slo.p99_ms` | number or null, > 0 | `null` |" in text
    assert "[route](#route)" in text and "## Route" in text


def test_schema_format_json_is_still_the_default(run_cli):
    result = run_cli("schema")
    assert result.exit_code == 0, result
    assert result.stdout.lstrip().startswith("{")
