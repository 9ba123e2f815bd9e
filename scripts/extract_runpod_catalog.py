"""Extract RunPod's published catalog enums (GPU type ids, CPU flavor ids, data center ids) from
RunPod's OpenAPI document into tests/data/runpod/catalog-enums.json.

    python scripts/extract_runpod_catalog.py path/to/runpod-openapi.json [-o OUTPUT]

The enums live on the create bodies of RunPod's REST API v1 (`https://rest.runpod.io/v1`):
`EndpointCreateInput` (serverless endpoints) and `PodCreateInput` (pods). The output keeps both,
with the document's address and title and the date of extraction, so tests/test_catalog.py can
check flashctl/catalog.py against them without reading the document.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "data" / "runpod" / "catalog-enums.json"
SCHEMAS = {"serverless": "EndpointCreateInput", "pods": "PodCreateInput"}
FIELDS = ("gpuTypeIds", "cpuFlavorIds", "dataCenterIds")


def extract(document: dict[str, Any]) -> dict[str, Any]:
    """The catalog enums of an OpenAPI document; ValueError when it has none."""
    schemas = document.get("components", {}).get("schemas", {})
    enums: dict[str, dict[str, list[str]]] = {}
    for product, schema_name in SCHEMAS.items():
        properties = schemas.get(schema_name, {}).get("properties", {})
        found = {
            field: properties[field]["items"]["enum"]
            for field in FIELDS
            if "enum" in properties.get(field, {}).get("items", {})
        }
        if not found:
            raise ValueError(
                f"the document has no enum of {', '.join(FIELDS)} on {schema_name}: RunPod"
                " publishes them in its REST v1 document (https://rest.runpod.io/v1/openapi.json)"
            )
        enums[product] = found
    servers = document.get("servers") or [{}]
    base = servers[0].get("url", "").rstrip("/")
    return {
        "source": f"{base}/openapi.json" if base else "",
        "title": document.get("info", {}).get("title", ""),
        "version": document.get("info", {}).get("version", ""),
        "extracted": datetime.now(timezone.utc).date().isoformat(),
        **enums,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path, help="RunPod's OpenAPI document (JSON)")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        document = json.loads(args.document.read_text(encoding="utf-8"))
        data = extract(document)
    except (OSError, ValueError) as error:
        print(f"{args.document}: {error}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
