"""Extract the parts of RunPod's OpenAPI v2 document that the contract tests use.

    python scripts/extract_runpod_openapi.py openapi.json [-o tests/data/runpod/openapi-v2.json]

Input: RunPod's published OpenAPI document for REST v2 (SOURCE_URL). Output: a smaller OpenAPI
document with the same `servers` and every schema under `#/components/schemas` that the tests name
(NEEDED), with everything those schemas reference, so `$ref`s resolve exactly as in the original.
A `x-flashctl-extract` entry records where it came from, when, and the source's sha256, so a
re-extraction shows what changed in a plain diff. The tests read only the output.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

SOURCE_URL = "https://api.runpod.io/v2/openapi.json"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "tests/data/runpod/openapi-v2.json"
SCHEMA_PREFIX = "#/components/schemas/"
# The request and response bodies the client, the renderer and the emulator exchange.
NEEDED = (
    "CreateEndpointRequest",
    "UpdateEndpointRequest",
    "Endpoint",
    "ListEndpointsResponse",
    "ListEndpointWorkersResponse",
    "ListEndpointReleasesResponse",
    "ListGpuTypesResponse",
    "ListCpuTypesResponse",
    "ListDataCentersResponse",
    "LogSource",
    "ErrorResponse",
    "ListRegistriesResponse",
    "Registry",
    "CreateRegistryRequest",
    "ListServerlessBillingResponse",
)


def referenced(node: Any) -> set[str]:
    """Names of the component schemas that `node` refers to directly.

    >>> sorted(referenced({"items": {"$ref": "#/components/schemas/Gpu"}}))
    ['Gpu']
    """
    if isinstance(node, dict):
        found = set()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
            found.add(ref[len(SCHEMA_PREFIX) :])
        for value in node.values():
            found |= referenced(value)
        return found
    if isinstance(node, list):
        return set().union(*map(referenced, node)) if node else set()
    return set()


def extract(document: dict[str, Any], source_sha256: str, today: str) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    keep: dict[str, Any] = {}
    todo = list(NEEDED)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        if name not in schemas:
            raise SystemExit(f"the source document has no schema {name!r}")
        keep[name] = schemas[name]
        todo.extend(referenced(schemas[name]) - keep.keys())
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "x-flashctl-extract": {
            "source": SOURCE_URL,
            "extracted": today,
            "source_sha256": source_sha256,
            "schemas": list(NEEDED),
            "script": "scripts/extract_runpod_openapi.py",
        },
        "servers": document["servers"],
        "components": {"schemas": dict(sorted(keep.items()))},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help=f"RunPod's OpenAPI v2 document ({SOURCE_URL})")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    raw = args.source.read_bytes()
    today = datetime.date.today().isoformat()
    extracted = extract(json.loads(raw), hashlib.sha256(raw).hexdigest(), today)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(extracted, indent=1, ensure_ascii=False) + "\n")
    count = len(extracted["components"]["schemas"])
    print(f"wrote {args.output} ({count} schemas from {args.source})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
