"""Fixtures for the runtime's tests: a TestClient over a service built from plain functions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flashctl_runtime import Route, Settings, create_app, logs
from starlette.testclient import TestClient

MakeClient = Callable[..., TestClient]


@pytest.fixture
def serve() -> Iterator[MakeClient]:
    """``serve(Route(...), ..., max_body=10)`` -> a started TestClient (lifespan included);
    ``serve(app=asgi_app, ...)`` wraps a whole ASGI app instead.

    Server exceptions are not re-raised: the runtime must turn them into responses itself.
    """
    clients: list[TestClient] = []

    def make(*routes: Route, app: Any = None, **settings: Any) -> TestClient:
        service = create_app(list(routes), Settings(**settings), app=app)
        client = TestClient(service, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Callable[..., list[dict[str, Any]]]:
    """``logged("request")`` -> the JSON log lines written to stdout since the last call,
    optionally only those of one ``event``."""

    def read(event: str | None = None) -> list[dict[str, Any]]:
        logs.flush()  # lines of the last requests may wait for the end of the loop's turn
        text = capsys.readouterr().out
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        return [line for line in lines if event is None or line.get("event") == event]

    return read
