"""RunPod's official request and response schemas, from the extract of its OpenAPI v2 document.

The extract (`tests/data/runpod/openapi-v2.json`) is made by `scripts/extract_runpod_openapi.py`
from RunPod's published document; its `x-flashctl-extract` entry names the source and the date.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OPENAPI_PATH = Path(__file__).resolve().parent / "data" / "runpod" / "openapi-v2.json"

# (method, route template, status class) -> the official schema of that response body
RESPONSE_SCHEMAS = {
    ("GET", "/v2/serverless"): "ListEndpointsResponse",
    ("POST", "/v2/serverless"): "Endpoint",
    ("GET", "/v2/serverless/{id}"): "Endpoint",
    ("PATCH", "/v2/serverless/{id}"): "Endpoint",
    ("GET", "/v2/serverless/{id}/workers"): "ListEndpointWorkersResponse",
    ("GET", "/v2/serverless/{id}/releases"): "ListEndpointReleasesResponse",
    ("GET", "/v2/catalog/gpus"): "ListGpuTypesResponse",
    ("GET", "/v2/catalog/cpus"): "ListCpuTypesResponse",
    ("GET", "/v2/catalog/datacenters"): "ListDataCentersResponse",
    ("GET", "/v2/registries"): "ListRegistriesResponse",
    ("POST", "/v2/registries"): "Registry",
    ("GET", "/v2/registries/{id}"): "Registry",
    ("GET", "/v2/billing/serverless"): "ListServerlessBillingResponse",
}
REQUEST_SCHEMAS = {
    ("POST", "/v2/serverless"): "CreateEndpointRequest",
    ("PATCH", "/v2/serverless/{id}"): "UpdateEndpointRequest",
    ("POST", "/v2/registries"): "CreateRegistryRequest",
}


class OfficialSchemas:
    """Validators for `#/components/schemas/<name>` of RunPod's OpenAPI 3.1 document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:runpod-openapi", resource)
        self._formats = FormatChecker()
        # jsonschema checks date-time only with an optional package; this is enough here.
        self._formats.checks("date-time", ValueError)(_is_date_time)
        self._validators: dict[str, Draft202012Validator] = {}

    def errors(self, name: str, instance: Any) -> list[str]:
        if name not in self.document["components"]["schemas"]:
            raise KeyError(f"the OpenAPI document has no schema {name!r}")
        if name not in self._validators:
            self._validators[name] = Draft202012Validator(
                {"$ref": f"urn:runpod-openapi#/components/schemas/{name}"},
                registry=self._registry,
                format_checker=self._formats,
            )
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self._validators[name].iter_errors(instance)
        ]

    def contract_violations(self, logged: list[dict[str, Any]]) -> list[str]:
        """What in an emulator request log breaks the official schemas."""
        found = []
        for entry in logged:
            route = (entry["method"], entry["template"])
            where = f"{entry['method']} {entry['path']} (#{entry['seq']})"
            if entry["user_agent"].startswith("flashctl/") and route in REQUEST_SCHEMAS:
                for error in self.errors(REQUEST_SCHEMAS[route], entry["request_body"]):
                    found.append(f"client body of {where}: {error}")
            status = entry["status"]
            if status is None or status == 204:
                continue
            name = "ErrorResponse" if status >= 400 else RESPONSE_SCHEMAS.get(route)
            if name is None:
                found.append(f"response of {where}: no official schema for this route")
                continue
            for error in self.errors(name, entry["response_body"]):
                found.append(f"{status} response of {where} vs {name}: {error}")
        return found


def _is_date_time(value: object) -> bool:
    # fromisoformat reads a trailing "Z" only from Python 3.11 on.
    if isinstance(value, str):
        datetime.fromisoformat(value.removesuffix("Z") + ("+00:00" if value.endswith("Z") else ""))
    return True


def load_official() -> OfficialSchemas:
    return OfficialSchemas(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))
