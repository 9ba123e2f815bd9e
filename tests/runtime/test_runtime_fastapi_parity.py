"""Binding as FastAPI users expect: each case states what FastAPI answers, and checks ours.

Every case is a request, the answer FastAPI gives (status and JSON, or the ``detail`` of an
error) and two handlers: the flashctl one (a plain function, as flash.yaml names it) and its
FastAPI spelling (``Body``/``Form``/``File`` markers where FastAPI needs them). The flashctl
handler is served through ``create_app``; with FastAPI installed (the dev extra has it, as the
oracle), the FastAPI handler is served by FastAPI too, so a stated answer that FastAPI does not
give fails here rather than being believed. Error details compare ``type``, ``loc`` and ``msg``
(FastAPI adds ``input``; ours does for pydantic models only).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
from flashctl_runtime import Route
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

try:  # pydantic is not a flashctl dependency: its cases skip without it
    import pydantic
except ImportError:  # pragma: no cover - the dev extra installs it (through fastapi)
    pydantic = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Case:
    id: str
    states: str  # the FastAPI behaviour, in words
    method: str
    path: str  # route template
    ours: Callable[..., Any]
    theirs: Callable[[Any], Callable[..., Any]]  # fastapi module -> its handler
    request: dict[str, Any]  # httpx request arguments (url, json, files, data, ...)
    status: int
    answer: Any = None  # the JSON answer on success, or the error detail items
    headers: dict[str, str] = field(default_factory=dict)  # expected response headers
    settings: dict[str, Any] = field(default_factory=dict)
    needs_pydantic: bool = False


def same(handler: Callable[..., Any]) -> Callable[[Any], Callable[..., Any]]:
    return lambda fastapi: handler


def embedded(make: Callable[[Any], Callable[..., Any]]) -> Callable[[Any], Callable[..., Any]]:
    return make


# --- lax coercion of body values ---------------------------------------------------------------


def add_ints(x: int, y: int) -> int:
    return x + y


def _fa_add_ints(fastapi: Any) -> Callable[..., Any]:
    def add(
        x: Annotated[int, fastapi.Body(embed=True)], y: Annotated[int, fastapi.Body(embed=True)]
    ) -> int:
        return x + y

    return add


def scale(x: float, flag: bool) -> list[Any]:
    return [x * 2, flag]


def _fa_scale(fastapi: Any) -> Callable[..., Any]:
    def scale(
        x: Annotated[float, fastapi.Body(embed=True)],
        flag: Annotated[bool, fastapi.Body(embed=True)],
    ) -> list[Any]:
        return [x * 2, flag]

    return scale


def name_of(name: str) -> str:
    return name


def _fa_name_of(fastapi: Any) -> Callable[..., Any]:
    def name_of(name: Annotated[str, fastapi.Body(embed=True)]) -> str:
        return name

    return name_of


# --- DELETE ---------------------------------------------------------------------------------------


def remove(ids: list[int]) -> dict[str, Any]:
    return {"removed": ids}


def _fa_remove(fastapi: Any) -> Callable[..., Any]:
    def remove(ids: Annotated[list[int], fastapi.Body(embed=True)]) -> dict[str, Any]:
        return {"removed": ids}

    return remove


def remove_one(item_id: int, hard: bool = False) -> dict[str, Any]:
    return {"removed": item_id, "hard": hard}


# --- HTTPException ------------------------------------------------------------------------------


def missing_item(item_id: int) -> None:
    raise StarletteHTTPException(404, f"no item {item_id}", headers={"X-Error": "gone"})


def _fa_missing(fastapi: Any) -> Callable[..., Any]:
    def missing(item_id: int) -> None:
        raise fastapi.HTTPException(
            status_code=409, detail={"item": item_id}, headers={"X-Error": "taken"}
        )

    return missing


def _ours_fastapi_missing(item_id: int) -> None:
    import fastapi  # raised as FastAPI's own, when it is installed

    raise fastapi.HTTPException(
        status_code=409, detail={"item": item_id}, headers={"X-Error": "taken"}
    )


# --- forms and uploads ----------------------------------------------------------------------------


def upload(file: UploadFile, label: str = "none") -> dict[str, Any]:
    data = file.file.read()
    return {"name": file.filename, "type": file.content_type, "size": len(data), "label": label}


def _fa_upload(fastapi: Any) -> Callable[..., Any]:
    def upload(
        file: fastapi.UploadFile, label: Annotated[str, fastapi.Form()] = "none"
    ) -> dict[str, Any]:
        data = file.file.read()
        return {"name": file.filename, "type": file.content_type, "size": len(data), "label": label}

    return upload


def upload_bytes(data: bytes, count: int) -> dict[str, Any]:
    return {"head": data[1:4].decode(), "size": len(data), "count": count}


def _fa_upload_bytes(fastapi: Any) -> Callable[..., Any]:
    def upload_bytes(
        data: Annotated[bytes, fastapi.File()], count: Annotated[int, fastapi.Form()]
    ) -> dict[str, Any]:
        return {"head": data[1:4].decode(), "size": len(data), "count": count}

    return upload_bytes


def form_fields(name: str, age: int) -> list[Any]:
    return [name, age]


def _fa_form_fields(fastapi: Any) -> Callable[..., Any]:
    def form_fields(
        name: Annotated[str, fastapi.Form()], age: Annotated[int, fastapi.Form()]
    ) -> list[Any]:
        return [name, age]

    return form_fields


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

CASES = [
    Case(
        "numeric-string-to-int",
        "a numeric string is coerced to int (pydantic's lax mode)",
        "POST",
        "/add",
        add_ints,
        _fa_add_ints,
        {"url": "/add", "json": {"x": "3", "y": 4}},
        200,
        7,
    ),
    Case(
        "int-from-integral-float-and-bool",
        "2.0 and true are the integers 2 and 1",
        "POST",
        "/add",
        add_ints,
        _fa_add_ints,
        {"url": "/add", "json": {"x": 2.0, "y": True}},
        200,
        3,
    ),
    Case(
        "fractional-string-is-not-an-int",
        '"1.5" is refused for an int',
        "POST",
        "/add",
        add_ints,
        _fa_add_ints,
        {"url": "/add", "json": {"x": "1.5", "y": 1}},
        422,
        [
            {
                "type": "int_parsing",
                "loc": ["body", "x"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            }
        ],
    ),
    Case(
        "string-to-float-and-bool",
        'numeric strings are floats, "yes"/"off"/1/0 booleans',
        "POST",
        "/scale",
        scale,
        _fa_scale,
        {"url": "/scale", "json": {"x": "1.25", "flag": "yes"}},
        200,
        [2.5, True],
    ),
    Case(
        "number-to-bool",
        "0 and 1 are booleans; 2 is not",
        "POST",
        "/scale",
        scale,
        _fa_scale,
        {"url": "/scale", "json": {"x": 1, "flag": 2}},
        422,
        [
            {
                "type": "bool_parsing",
                "loc": ["body", "flag"],
                "msg": "Input should be a valid boolean, unable to interpret input",
            }
        ],
    ),
    Case(
        "no-string-from-a-number",
        "a number is never made a string",
        "POST",
        "/name",
        name_of,
        _fa_name_of,
        {"url": "/name", "json": {"name": 3}},
        422,
        [{"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string"}],
    ),
    Case(
        "unknown-keys-ignored",
        "keys no parameter names are ignored (runtime.unknown_keys: ignore)",
        "POST",
        "/add",
        add_ints,
        _fa_add_ints,
        {"url": "/add", "json": {"x": 1, "y": 2, "z": 3}},
        200,
        3,
        settings={"unknown_keys": "ignore"},
    ),
    Case(
        "delete-reads-a-json-body",
        "DELETE with a JSON body binds its keys",
        "DELETE",
        "/items",
        remove,
        _fa_remove,
        {"method": "DELETE", "url": "/items", "json": {"ids": ["1", 2]}},
        200,
        {"removed": [1, 2]},
    ),
    Case(
        "delete-without-a-body-reads-the-query",
        "DELETE without a body binds from the query string",
        "DELETE",
        "/items/{item_id}",
        remove_one,
        same(remove_one),
        {"method": "DELETE", "url": "/items/7?hard=true"},
        200,
        {"removed": 7, "hard": True},
    ),
    Case(
        "starlette-http-exception",
        "Starlette's HTTPException answers its status, detail and headers",
        "GET",
        "/items/{item_id}",
        missing_item,
        same(missing_item),
        {"method": "GET", "url": "/items/3"},
        404,
        "no item 3",
        headers={"x-error": "gone"},
    ),
    Case(
        "upload-file",
        "an UploadFile parameter gets the upload: filename, content type, content",
        "POST",
        "/upload",
        upload,
        _fa_upload,
        {"url": "/upload", "files": {"file": ("a.png", PNG, "image/png")}, "data": {"label": "x"}},
        200,
        {"name": "a.png", "type": "image/png", "size": len(PNG), "label": "x"},
    ),
    Case(
        "upload-missing",
        "a required file that is not sent is missing at body",
        "POST",
        "/upload",
        upload,
        _fa_upload,
        {"url": "/upload", "data": {"label": "x"}, "files": {"other": ("b", b"1")}},
        422,
        [{"type": "missing", "loc": ["body", "file"], "msg": "Field required"}],
        settings={"unknown_keys": "ignore"},
    ),
    Case(
        "file-as-bytes-and-form-field",
        "a bytes parameter gets the file's content, a form field is coerced",
        "POST",
        "/bytes",
        upload_bytes,
        _fa_upload_bytes,
        {"url": "/bytes", "files": {"data": ("a.png", PNG, "image/png")}, "data": {"count": "2"}},
        200,
        {"head": "PNG", "size": len(PNG), "count": 2},
    ),
    Case(
        "urlencoded-form",
        "an urlencoded form binds its fields, coerced",
        "POST",
        "/form",
        form_fields,
        _fa_form_fields,
        {"url": "/form", "data": {"name": "Ada", "age": "36"}},
        200,
        ["Ada", 36],
    ),
    Case(
        "multipart-form-fields",
        "a multipart form binds its text fields",
        "POST",
        "/form",
        form_fields,
        _fa_form_fields,
        {"url": "/form", "data": {"name": "Ada", "age": "x"}, "files": {"f": ("f", b"")}},
        422,
        [
            {
                "type": "int_parsing",
                "loc": ["body", "age"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            }
        ],
        settings={"unknown_keys": "ignore"},
    ),
]


if pydantic is not None:

    class Item(pydantic.BaseModel):
        name: str
        price: float
        tags: list[str] = []

        @pydantic.field_validator("name")
        @classmethod
        def not_bad(cls, value: str) -> str:
            if value == "bad":
                raise ValueError("no bad names")
            return value

    def create_item(item: Item) -> Item:
        return item

    def update_item(item_id: int, item: Item) -> dict[str, Any]:
        return {"id": item_id, "item": item}

    def maybe_item(item: Item | None = None) -> Any:
        return item

    MODEL_CASES = [
        Case(
            "model-is-the-whole-body",
            "a parameter annotated with a pydantic model receives the whole body",
            "POST",
            "/items",
            create_item,
            same(create_item),
            {"url": "/items", "json": {"name": "pen", "price": "1.5", "extra": 1}},
            200,
            {"name": "pen", "price": 1.5, "tags": []},
            needs_pydantic=True,
        ),
        Case(
            "model-beside-a-path-parameter",
            "a model beside a path parameter is still the whole body",
            "PUT",
            "/items/{item_id}",
            update_item,
            same(update_item),
            {"method": "PUT", "url": "/items/4", "json": {"name": "pen", "price": 2}},
            200,
            {"id": 4, "item": {"name": "pen", "price": 2.0, "tags": []}},
            needs_pydantic=True,
        ),
        Case(
            "model-errors",
            "the model's errors are 422, located below body, with the input",
            "POST",
            "/items",
            create_item,
            same(create_item),
            {"url": "/items", "json": {"name": "bad", "price": "x"}},
            422,
            [
                {
                    "type": "value_error",
                    "loc": ["body", "name"],
                    "msg": "Value error, no bad names",
                    "input": "bad",
                    "ctx": {"error": {}},
                },
                {
                    "type": "float_parsing",
                    "loc": ["body", "price"],
                    "msg": "Input should be a valid number, unable to parse string as a number",
                    "input": "x",
                },
            ],
            needs_pydantic=True,
        ),
        Case(
            "model-body-missing",
            "no body for a required model: missing at body",
            "POST",
            "/items",
            create_item,
            same(create_item),
            {"url": "/items"},
            422,
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
            needs_pydantic=True,
        ),
        Case(
            "model-body-not-an-object",
            "a list where the model wants an object",
            "POST",
            "/items",
            create_item,
            same(create_item),
            {"url": "/items", "json": [1]},
            422,
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": [1],
                }
            ],
            needs_pydantic=True,
        ),
        Case(
            "optional-model-without-body",
            "an optional model without a body is its default",
            "POST",
            "/maybe",
            maybe_item,
            same(maybe_item),
            {"url": "/maybe"},
            200,
            None,
            needs_pydantic=True,
        ),
    ]
    CASES += MODEL_CASES


FASTAPI_ONLY = [
    Case(
        "fastapi-http-exception",
        "FastAPI's HTTPException answers its status, detail (any JSON) and headers",
        "GET",
        "/items/{item_id}",
        _ours_fastapi_missing,
        _fa_missing,
        {"method": "GET", "url": "/items/3"},
        409,
        {"item": 3},
        headers={"x-error": "taken"},
    )
]


def _request(client: Any, case: Case) -> Any:
    arguments = dict(case.request)
    method = arguments.pop("method", "POST")
    return client.request(method, **arguments)


def _check(response: Any, case: Case, ours: bool) -> None:
    assert response.status_code == case.status, response.text
    body = response.json()
    if case.status >= 400:
        detail = body["detail"]
        if isinstance(case.answer, list) and not case.needs_pydantic:
            keys = ("type", "loc", "msg")
            detail = [{key: item[key] for key in keys} for item in detail]
        assert detail == case.answer
        if ours:
            assert body["request_id"] == response.headers["x-request-id"]
    else:
        assert body == case.answer
    for name, value in case.headers.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_flashctl_answers_as_fastapi_does(serve, case):
    client = serve(Route(case.method, case.path, case.ours), **case.settings)
    _check(_request(client, case), case, ours=True)


@pytest.mark.parametrize("case", CASES + FASTAPI_ONLY, ids=lambda case: case.id)
def test_fastapi_answers_as_stated(case):
    fastapi = pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    app = fastapi.FastAPI()
    app.add_api_route(case.path, case.theirs(fastapi), methods=[case.method])
    with TestClient(app) as client:
        _check(_request(client, case), case, ours=False)


@pytest.mark.parametrize("case", FASTAPI_ONLY, ids=lambda case: case.id)
def test_flashctl_answers_fastapi_exceptions(serve, case):
    pytest.importorskip("fastapi")
    client = serve(Route(case.method, case.path, case.ours), **case.settings)
    _check(_request(client, case), case, ours=True)


@pytest.mark.skipif(pydantic is None, reason="pydantic is not installed")
def test_a_model_beside_other_fields_binds_from_its_key(serve):
    # FastAPI would take `count` from the query; flashctl binds every field from the body's
    # top-level keys, and a model among them is validated by the model at its key.
    def order(item: Item, count: int):
        return {"item": item, "count": count}

    client = serve(Route("POST", "/order", order))
    body = {"item": {"name": "pen", "price": "2"}, "count": "3"}
    assert client.post("/order", json=body).json() == {
        "item": {"name": "pen", "price": 2.0, "tags": []},
        "count": 3,
    }
    bad = client.post("/order", json={"item": {"name": "pen"}, "count": 1})
    assert bad.status_code == 422
    assert bad.json()["detail"] == [
        {
            "type": "missing",
            "loc": ["body", "item", "price"],
            "msg": "Field required",
            "input": {"name": "pen"},
        }
    ]


@pytest.mark.skipif(pydantic is None, reason="pydantic is not installed")
def test_an_enveloped_model_body_is_validated_inside_the_envelope(serve):
    client = serve(Route("POST", "/items", create_item, envelope="input"))
    response = client.post("/items", json={"input": {"name": "pen", "price": 1}})
    assert response.json()["output"] == {"name": "pen", "price": 1.0, "tags": []}
    refused = client.post("/items", json={"input": {"name": "pen"}})
    assert refused.json()["detail"][0]["loc"] == ["body", "price"]
