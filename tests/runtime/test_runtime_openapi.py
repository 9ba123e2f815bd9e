"""The OpenAPI 3.1 document and the /docs page, generated from routes and signatures."""

from __future__ import annotations

from typing import Any

from flashctl_runtime import Route
from starlette.requests import Request


def update_user(request: Request, user_id: int, name: str, tags: list[str] | None = None):
    """Update a user.

    Changes the name and tags of one user.
    """
    return {"id": user_id}


def list_users(limit: int = 10, active: bool = True) -> list[dict[str, Any]]:
    """List users."""
    return []


def upload(key: str, data: bytes) -> int:
    return len(data)


ROUTES = (
    Route("POST", "/users/{user_id:int}", update_user, name="users:update_user"),
    Route("GET", "/users", list_users, name="users:list_users"),
    Route("PUT", "/blobs/{key}", upload, name="blobs:upload"),
)


def test_openapi_is_not_served_when_docs_are_off(serve):
    client = serve(*ROUTES, docs=False)
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404


def test_docs_page_is_served_when_docs_are_on(serve):
    client = serve(*ROUTES, docs=True)
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text


def test_openapi_document_describes_every_route(serve):
    client = serve(*ROUTES, docs=True, title="user-service-api", version="1.2.3")
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "user-service-api", "version": "1.2.3"}
    assert set(document["paths"]) == {"/ping", "/users/{user_id}", "/users", "/blobs/{key}"}
    assert "/execute" not in document["paths"]


def test_openapi_body_is_an_object_of_the_body_params(serve):
    client = serve(*ROUTES, docs=True)
    operation = client.get("/openapi.json").json()["paths"]["/users/{user_id}"]["post"]
    assert operation["operationId"] == "users_update_user"
    assert operation["summary"] == "Update a user."
    assert operation["description"] == "Changes the name and tags of one user."
    assert operation["tags"] == ["users"]
    assert operation["parameters"] == [
        {
            "name": "user_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    ]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
        },
        "required": ["name"],  # no "request": the Request is not a body key
    }


def test_openapi_body_refuses_unknown_keys_as_the_binding_does(serve):
    def add(x: int, y: int = 0) -> int:
        return x + y

    def add_any(x: int, **extra: int) -> int:
        return x

    client = serve(Route("POST", "/add", add), Route("POST", "/add_any", add_any), docs=True)
    paths = client.get("/openapi.json").json()["paths"]
    strict = paths["/add"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    loose = paths["/add_any"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert strict["additionalProperties"] is False
    assert "additionalProperties" not in loose


def test_openapi_query_params_have_schemas_and_defaults(serve):
    client = serve(*ROUTES, docs=True)
    operation = client.get("/openapi.json").json()["paths"]["/users"]["get"]
    assert operation["parameters"] == [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "default": 10},
        },
        {
            "name": "active",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": True},
        },
    ]
    success = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert success == {"type": "array", "items": {"type": "object"}}


def test_openapi_raw_body_is_octet_stream(serve):
    client = serve(*ROUTES, docs=True)
    operation = client.get("/openapi.json").json()["paths"]["/blobs/{key}"]["put"]
    assert list(operation["requestBody"]["content"]) == ["application/octet-stream"]


def test_openapi_errors_reference_shared_schemas(serve):
    client = serve(*ROUTES, docs=True)
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/users"]["get"]["responses"]
    assert set(responses) == {"200", "422", "default"}
    assert set(document["components"]["schemas"]) == {"Error", "HTTPValidationError"}
