"""Binding: from a request to the handler's keyword arguments (design section 7)."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from flashctl_runtime import Route
from starlette.requests import Request


def echo(**kwargs: Any) -> dict[str, Any]:
    return {key: [value, type(value).__name__] for key, value in kwargs.items()}


def test_path_converter_int_gives_an_int(serve):
    def get_item(item_id):
        return [item_id, type(item_id).__name__]

    client = serve(Route("GET", "/items/{item_id:int}", get_item))
    assert client.get("/items/42").json() == [42, "int"]


def test_path_param_is_converted_by_its_annotation(serve):
    def get_item(item_id: int):
        return [item_id, type(item_id).__name__]

    client = serve(Route("GET", "/items/{item_id}", get_item))
    assert client.get("/items/42").json() == [42, "int"]


def test_path_param_that_does_not_fit_its_annotation_gives_422_at_path(serve):
    def get_item(item_id: int):
        return item_id

    client = serve(Route("GET", "/items/{item_id}", get_item))
    response = client.get("/items/abc")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "item_id"]
    assert response.json()["detail"][0]["type"] == "int_parsing"


def test_get_takes_params_from_the_query_converted_by_annotation(serve):
    def search(n: int, ratio: float, flag: bool, name: str):
        return echo(n=n, ratio=ratio, flag=flag, name=name)

    client = serve(Route("GET", "/search", search))
    response = client.get("/search", params={"n": "3", "ratio": "0.5", "flag": "true", "name": "x"})
    assert response.json() == {
        "n": [3, "int"],
        "ratio": [0.5, "float"],
        "flag": [True, "bool"],
        "name": ["x", "str"],
    }


def test_query_list_param_collects_every_repeated_key(serve):
    def tagged(tag: list[int]):
        return tag

    client = serve(Route("GET", "/tagged", tagged))
    assert client.get("/tagged?tag=1&tag=2&tag=3").json() == [1, 2, 3]


def test_delete_takes_params_from_the_query(serve):
    def remove(user_id: int, hard: bool = False):
        return {"removed": user_id, "hard": hard}

    client = serve(Route("DELETE", "/users/{user_id:int}", remove))
    assert client.delete("/users/7?hard=1").json() == {"removed": 7, "hard": True}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_methods_take_params_from_top_level_json_keys(serve, method):
    def add(x: int, y: int):
        return x + y

    client = serve(Route(method, "/add", add))
    response = client.request(method, "/add", json={"x": 5, "y": 3})
    assert response.status_code == 200
    assert response.json() == 8


def test_path_and_body_params_combine(serve):
    def update_user(user_id: int, name: str):
        return {"id": user_id, "name": name}

    client = serve(Route("POST", "/users/{user_id:int}", update_user))
    assert client.post("/users/3", json={"name": "ada"}).json() == {"id": 3, "name": "ada"}


def test_request_param_receives_the_request(serve):
    def who(request: Request, name: str):
        return {"path": request.url.path, "agent": request.headers["x-agent"], "name": name}

    client = serve(Route("POST", "/who", who))
    response = client.post("/who", json={"name": "ada"}, headers={"x-agent": "t"})
    assert response.json() == {"path": "/who", "agent": "t", "name": "ada"}


def test_handler_taking_the_request_may_get_keys_it_does_not_name(serve):
    def search(request: Request, q: str):
        return {"q": q, "page": request.query_params["page"]}

    client = serve(Route("GET", "/search", search))
    assert client.get("/search?q=a&page=2").json() == {"q": "a", "page": "2"}


def test_request_only_handler_reads_the_body_itself(serve):
    async def raw_json(request: Request):
        return {"got": await request.json()}

    client = serve(Route("POST", "/raw", raw_json))
    assert client.post("/raw", json=[1, 2]).json() == {"got": [1, 2]}


def test_bytes_param_receives_the_raw_body(serve):
    def size(data: bytes, label: str = "none"):
        return {"size": len(data), "head": data[:3].decode(), "label": label}

    client = serve(Route("POST", "/size", size))
    response = client.post("/size?label=img", content=b"abcdef")
    assert response.json() == {"size": 6, "head": "abc", "label": "img"}


def test_var_keyword_accepts_unknown_keys(serve):
    def anything(x: int, **extra: Any):
        return {"x": x, "extra": extra}

    client = serve(Route("POST", "/anything", anything))
    response = client.post("/anything", json={"x": 1, "y": "z", "w": [1]})
    assert response.json() == {"x": 1, "extra": {"y": "z", "w": [1]}}


def test_defaults_are_honoured(serve):
    def greet(name: str = "world", punctuation: str = "!"):
        return f"hello {name}{punctuation}"

    client = serve(Route("POST", "/greet", greet), Route("GET", "/greet", greet))
    assert client.post("/greet", json={"name": "ada"}).json() == "hello ada!"
    assert client.post("/greet").json() == "hello world!"
    assert client.get("/greet?punctuation=?").json() == "hello world?"


def test_missing_field_gives_422_in_fastapi_shape(serve):
    def add(x: int, y: int):
        return x + y

    client = serve(Route("POST", "/add", add))
    response = client.post("/add", json={"x": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == [{"loc": ["body", "y"], "msg": "Field required", "type": "missing"}]
    assert body["request_id"] == response.headers["x-request-id"]


def test_missing_query_param_gives_422_at_query(serve):
    def search(q: str):
        return q

    client = serve(Route("GET", "/search", search))
    response = client.get("/search")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


def test_unknown_key_gives_422(serve):
    def add(x: int, y: int):
        return x + y

    client = serve(Route("POST", "/add", add))
    response = client.post("/add", json={"x": 1, "y": 2, "z": 3})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "z"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]


def test_unknown_query_param_gives_422(serve):
    def search(q: str):
        return q

    client = serve(Route("GET", "/search", search))
    assert client.get("/search?q=a&page=2").status_code == 422


@pytest.mark.parametrize(
    ("value", "kind"),
    [("5", "int_type"), (True, "int_type"), (1.5, "int_type"), (None, "int_type")],
)
def test_mistyped_value_gives_422(serve, value, kind):
    def double(x: int):
        return x * 2

    client = serve(Route("POST", "/double", double))
    response = client.post("/double", json={"x": value})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "x"], "msg": "Input should be a valid integer", "type": kind}
    ]


def test_every_problem_is_reported_not_only_the_first(serve):
    def add(x: int, y: int):
        return x + y

    client = serve(Route("POST", "/add", add))
    detail = client.post("/add", json={"x": "a", "z": 1}).json()["detail"]
    assert [item["loc"] for item in detail] == [["body", "x"], ["body", "y"], ["body", "z"]]


def test_list_item_of_the_wrong_type_is_located_by_index(serve):
    def total(values: list[int]):
        return sum(values)

    client = serve(Route("POST", "/total", total))
    assert client.post("/total", json={"values": [1, 2]}).json() == 3
    detail = client.post("/total", json={"values": [1, "two"]}).json()["detail"]
    assert detail[0]["loc"] == ["body", "values", 1]


def test_optional_accepts_null_and_the_type(serve):
    def maybe(x: int | None = 0, labels: dict[str, float] | None = None):
        return {"x": x, "labels": labels}

    client = serve(Route("POST", "/maybe", maybe))
    assert client.post("/maybe", json={"x": None}).json() == {"x": None, "labels": None}
    assert client.post("/maybe", json={"labels": {"a": 1}}).json() == {"x": 0, "labels": {"a": 1.0}}
    assert client.post("/maybe", json={"labels": {"a": "b"}}).status_code == 422


def test_float_accepts_an_integer_and_int_accepts_an_integral_float(serve):
    def scale(x: int, factor: float):
        return echo(x=x, factor=factor)

    client = serve(Route("POST", "/scale", scale))
    assert client.post("/scale", json={"x": 2.0, "factor": 3}).json() == {
        "x": [2, "int"],
        "factor": [3.0, "float"],
    }


def test_literal_annotation_restricts_values(serve):
    def pick(mode: Literal["fast", "slow"]):
        return mode

    client = serve(Route("POST", "/pick", pick))
    assert client.post("/pick", json={"mode": "fast"}).json() == "fast"
    assert client.post("/pick", json={"mode": "other"}).json()["detail"][0]["type"] == (
        "literal_error"
    )


def test_unannotated_params_accept_any_json_value(serve):
    def keep(value):
        return value

    client = serve(Route("POST", "/keep", keep))
    assert client.post("/keep", json={"value": {"a": [1, None]}}).json() == {"a": [1, None]}
