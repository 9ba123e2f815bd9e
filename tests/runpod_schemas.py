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
# Routes that answer 200 with server-sent events: each event needs an `id:` and a JSON `data:`
# of `source` (this schema), `line` and `ts` (date-time), as the route's description says.
EVENT_STREAMS = {("GET", "/v2/serverless/{id}/workers/{workerId}/logs"): "LogSource"}
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
            if status < 400 and route in EVENT_STREAMS:
                for error in self.event_errors(EVENT_STREAMS[route], entry["response_body"]):
                    found.append(f"{status} event stream of {where}: {error}")
                continue
            name = "ErrorResponse" if status >= 400 else RESPONSE_SCHEMAS.get(route)
            if name is None:
                found.append(f"response of {where}: no official schema for this route")
                continue
            for error in self.errors(name, entry["response_body"]):
                found.append(f"{status} response of {where} vs {name}: {error}")
        return found

    def event_errors(self, source_schema: str, text: Any) -> list[str]:
        """What in an SSE body breaks RunPod's log event format (a cut last event is left out:
        a stream is logged as far as it went)."""
        if not isinstance(text, str):
            return [f"not an event stream: {text!r}"]
        found = []
        for block in text.split("\n\n")[:-1]:
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            if not fields:
                continue
            if not fields.get("id"):
                found.append(f"event without an id: {block!r}")
            try:
                data = json.loads(fields.get("data", ""))
            except ValueError:
                found.append(f"event data is not JSON: {block!r}")
                continue
            if not isinstance(data, dict) or set(data) != {"ts", "source", "line"}:
                found.append(f"event data is not {{ts, source, line}}: {data!r}")
                continue
            found += [f"source: {error}" for error in self.errors(source_schema, data["source"])]
            if not isinstance(data["line"], str):
                found.append(f"line is not a string: {data!r}")
            try:
                if not isinstance(data["ts"], str):
                    raise ValueError
                _is_date_time(data["ts"])
            except ValueError:
                found.append(f"ts is not a date-time: {data!r}")
        return found


def _is_date_time(value: object) -> bool:
    # fromisoformat reads a trailing "Z" only from Python 3.11 on.
    if isinstance(value, str):
        datetime.fromisoformat(value.removesuffix("Z") + ("+00:00" if value.endswith("Z") else ""))
    return True


def load_official() -> OfficialSchemas:
    return OfficialSchemas(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))
