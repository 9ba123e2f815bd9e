"""Binding: from a request to the handler's keyword arguments (design section 7)."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from flashctl_runtime import Route, UploadFile
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
    ("value", "kind", "msg"),
    [
        ("five", "int_parsing", "unable to parse string as an integer"),
        ("1.5", "int_parsing", "unable to parse string as an integer"),
        (1.5, "int_from_float", "got a number with a fractional part"),
        (None, "int_type", ""),
        ([5], "int_type", ""),
    ],
)
def test_mistyped_value_gives_422(serve, value, kind, msg):
    def double(x: int):
        return x * 2

    client = serve(Route("POST", "/double", double))
    response = client.post("/double", json={"x": value})
    assert response.status_code == 422
    expected = "Input should be a valid integer" + (f", {msg}" if msg else "")
    assert response.json()["detail"] == [{"loc": ["body", "x"], "msg": expected, "type": kind}]


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


# --- FastAPI-compatible binding (issue 14 item 4); the parity suite states FastAPI's answers ---


def test_unknown_keys_are_ignored_when_the_service_says_so(serve):
    def add(x: int, y: int = 0):
        return x + y

    client = serve(Route("POST", "/add", add), Route("GET", "/add", add), unknown_keys="ignore")
    assert client.post("/add", json={"x": 1, "y": 2, "z": 3}).json() == 3
    assert client.get("/add?x=1&page=2").json() == 1
    missing = client.post("/add", json={"z": 3})
    assert missing.status_code == 422  # ignoring unknown keys never makes a missing one optional
    assert missing.json()["detail"] == [
        {"loc": ["body", "x"], "msg": "Field required", "type": "missing"}
    ]


def test_unknown_keys_setting_takes_only_reject_or_ignore():
    from flashctl_runtime import Settings

    with pytest.raises(ValueError, match="unknown_keys"):
        Settings(unknown_keys="drop")


def test_numeric_strings_and_bools_coerce_in_nested_values(serve):
    def total(values: list[int], weights: dict[str, float], flags: list[bool]):
        return {"sum": sum(values), "w": weights, "flags": flags}

    client = serve(Route("POST", "/total", total))
    response = client.post(
        "/total",
        json={"values": ["1", 2, True], "weights": {"a": "0.5"}, "flags": ["on", 0, "F"]},
    )
    assert response.json() == {"sum": 4, "w": {"a": 0.5}, "flags": [True, False, False]}


def test_a_non_finite_number_string_is_refused_as_json_cannot_send_it_back(serve):
    def echo_float(x: float):
        return x

    client = serve(Route("POST", "/f", echo_float))
    assert client.post("/f", json={"x": "nan"}).json()["detail"][0]["type"] == "float_parsing"


def test_delete_reads_a_json_body_when_one_is_sent_and_the_query_otherwise(serve):
    def remove(user_id: int, hard: bool = False, reason: str = "none"):
        return {"removed": user_id, "hard": hard, "reason": reason}

    client = serve(Route("DELETE", "/users/{user_id:int}", remove))
    sent = client.request("DELETE", "/users/7?reason=old", json={"hard": "yes"})
    assert sent.json() == {"removed": 7, "hard": True, "reason": "old"}
    assert client.delete("/users/7?hard=1").json() == {"removed": 7, "hard": True, "reason": "none"}
    unknown = client.request("DELETE", "/users/7", json={"force": True})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "force"]


def test_bytes_beside_a_path_parameter_gets_the_whole_body(serve):
    def put_blob(key: str, data: bytes, version: int = 1):
        return {"key": key, "size": len(data), "head": data[:2].decode(), "version": version}

    client = serve(Route("PUT", "/blobs/{key}", put_blob))
    response = client.put("/blobs/a?version=2", content=b'{"x": 1}')
    assert response.json() == {"key": "a", "size": 8, "head": '{"', "version": 2}


def test_bytes_with_a_default_gets_the_body_or_its_default(serve):
    def maybe(data: bytes = b"empty"):
        return data.decode()

    client = serve(Route("POST", "/maybe", maybe))
    assert client.post("/maybe", content=b"sent").json() == "sent"
    assert client.post("/maybe").json() == "empty"


def test_multipart_file_and_fields_beside_a_path_parameter(serve):
    def attach(doc_id: int, file: bytes, title: str, tags: list[str] | None = None):
        return {"doc": doc_id, "size": len(file), "title": title, "tags": tags}

    client = serve(Route("POST", "/docs/{doc_id:int}/files", attach))
    response = client.post(
        "/docs/3/files",
        files={"file": ("a.bin", b"\x00" * 10)},
        data={"title": "t", "tags": ["x", "y"]},
    )
    assert response.json() == {"doc": 3, "size": 10, "title": "t", "tags": ["x", "y"]}


def test_multipart_without_the_file_gives_422_and_a_json_body_is_not_a_file(serve):
    def store(file: UploadFile):
        return file.filename

    client = serve(Route("POST", "/store", store))
    assert client.post("/store", data={"other": "1"}).status_code == 422
    as_json = client.post("/store", json={"file": "x"})
    assert as_json.status_code == 422
    assert {"loc": ["body", "file"], "msg": "Field required", "type": "missing"} in as_json.json()[
        "detail"
    ]


def test_multipart_body_over_max_body_gives_413(serve):
    def store(file: bytes):
        return len(file)

    client = serve(Route("POST", "/store", store, max_body=1000))
    assert client.post("/store", files={"file": ("a", b"x" * 500)}).json() == 500
    assert client.post("/store", files={"file": ("a", b"x" * 2000)}).status_code == 413


def test_malformed_multipart_gives_400(serve):
    def store(file: bytes):
        return len(file)

    client = serve(Route("POST", "/store", store))
    response = client.post(
        "/store",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400


def test_enveloped_request_binds_the_input_and_answers_as_runsync(serve):
    def square(numbers: list[float], scale: float = 1.0):
        return [n * n * scale for n in numbers]

    client = serve(Route("POST", "/square", square, envelope="input"))
    plain = client.post("/square", json={"numbers": [2, 3]})
    assert plain.json() == [4.0, 9.0]
    enveloped = client.post(
        "/square", json={"input": {"numbers": [2], "scale": "2"}, "webhook": "http://x"}
    )
    assert enveloped.json() == {
        "id": enveloped.headers["x-request-id"],
        "status": "COMPLETED",
        "output": [8.0],
    }
    refused = client.post("/square", json={"input": {"numbers": "x"}})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "numbers"]


def test_without_the_envelope_option_input_is_an_ordinary_key(serve):
    def square(numbers: list[float]):
        return numbers

    client = serve(Route("POST", "/square", square))
    response = client.post("/square", json={"input": {"numbers": [2]}})
    assert response.status_code == 422


def test_a_handler_taking_input_itself_is_plain_unless_the_envelope_wraps_it(serve):
    def job(input: dict, **options: Any):
        return {"input": input, "options": options}

    client = serve(Route("POST", "/job", job, envelope="input"))
    wrapped = client.post("/job", json={"input": {"input": {"a": 1}}})
    assert wrapped.json()["output"] == {"input": {"a": 1}, "options": {}}
    plain = client.post("/job", json={"input": {"a": 1}, "priority": 2})
    assert plain.json() == {"input": {"a": 1}, "options": {"priority": 2}}


def test_envelope_must_be_input():
    from flashctl_runtime import create_app

    with pytest.raises(ValueError, match="envelope"):
        create_app([Route("POST", "/x", lambda: 1, envelope="payload")])


@pytest.mark.parametrize("status", [302, 200, "418"])
def test_a_foreign_http_exception_without_an_error_status_is_a_500(serve, status):
    from starlette.exceptions import HTTPException

    class Odd(HTTPException):
        pass

    def odd():
        error = Odd(404)
        error.status_code = status  # type: ignore[assignment]
        raise error

    client = serve(Route("GET", "/odd", odd))
    assert client.get("/odd").status_code == 500


def test_a_subclass_of_starlettes_http_exception_keeps_its_status(serve):
    from starlette.exceptions import HTTPException

    class Teapot(HTTPException):
        def __init__(self) -> None:
            super().__init__(418, "short and stout", headers={"Retry-After": "5"})

    def brew():
        raise Teapot()

    client = serve(Route("GET", "/brew", brew))
    response = client.get("/brew")
    assert (response.status_code, response.json()["detail"]) == (418, "short and stout")
    assert response.headers["retry-after"] == "5"


def test_services_never_import_pydantic_or_fastapi_themselves(tmp_path):
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import sys
        from starlette.testclient import TestClient
        from flashctl_runtime import Route, Settings, create_app

        def add(x: int, y: int):
            return x + y

        def store(data: bytes):
            return len(data)

        app = create_app([Route("POST", "/add", add), Route("POST", "/store", store)], Settings())
        with TestClient(app) as client:
            assert client.post("/add", json={"x": "1", "y": 2}).json() == 3
            assert client.post("/store", content=b"abc").json() == 3
            assert client.post("/add", data={"x": "1", "y": "2"}).json() == 3
        loaded = sorted(
            name for name in ("pydantic", "fastapi") if name in sys.modules
        )
        print(loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
