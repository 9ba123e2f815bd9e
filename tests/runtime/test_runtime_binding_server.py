"""FastAPI-compatible binding over real HTTP: a served app on 127.0.0.1 (hypercorn and
uvicorn, started as the container starts them) takes multipart uploads, pydantic models,
FastAPI's HTTPException, lax numbers, DELETE bodies and RunPod's ``{"input": ...}``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, start_runtime, stop, wait_for_status

pytestmark = pytest.mark.slow

pytest.importorskip("fastapi")  # the app below is written as a FastAPI user writes it

APP = textwrap.dedent(
    """
    from fastapi import HTTPException, UploadFile
    from pydantic import BaseModel

    from flashctl_runtime import Route, Settings, create_app


    class Order(BaseModel):
        item: str
        quantity: int


    def order(order: Order):
        return {"item": order.item, "total": order.quantity * 2}


    def upload(file: UploadFile, caption: str = ""):
        return {"name": file.filename, "type": file.content_type, "size": len(file.file.read()),
                "caption": caption}


    def find(item_id: int):
        raise HTTPException(status_code=404, detail=f"no item {item_id}",
                            headers={"X-Missing": str(item_id)})


    def remove(ids: list[int]):
        return {"removed": ids}


    def square(numbers: list[float]):
        return [n * n for n in numbers]


    app = create_app(
        [
            Route("POST", "/orders", order),
            Route("POST", "/upload", upload, max_body=64 * 1024),
            Route("GET", "/items/{item_id}", find),
            Route("DELETE", "/items", remove),
            Route("POST", "/square", square, envelope="input"),
        ],
        Settings(title="binding", unknown_keys="ignore"),
    )
    """
)


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_fastapi_style_binding_over_real_http(tmp_path: Path, server: str) -> None:
    (tmp_path / "binding_app.py").write_text(APP)
    port = free_port()
    process = start_runtime(tmp_path, "binding_app:app", server, port, tmp_path / "log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/ping", 200, timeout=30, process=process)
        with httpx.Client(base_url=base, timeout=10) as client:
            ordered = client.post("/orders", json={"item": "pen", "quantity": "3", "note": "x"})
            assert ordered.json() == {"item": "pen", "total": 6}
            invalid = client.post("/orders", json={"item": "pen", "quantity": "many"})
            assert invalid.status_code == 422
            assert invalid.json()["detail"][0]["loc"] == ["body", "quantity"]
            uploaded = client.post(
                "/upload",
                files={"file": ("cat.png", b"\x89PNG" + b"\x00" * 1000, "image/png")},
                data={"caption": "a cat"},
            )
            assert uploaded.json() == {
                "name": "cat.png",
                "type": "image/png",
                "size": 1004,
                "caption": "a cat",
            }
            too_big = client.post("/upload", files={"file": ("big", b"x" * 100_000)})
            assert too_big.status_code == 413
            missing = client.get("/items/7")
            assert (missing.status_code, missing.json()["detail"]) == (404, "no item 7")
            assert missing.headers["x-missing"] == "7"
            removed = client.request("DELETE", "/items", json={"ids": [1, "2"]})
            assert removed.json() == {"removed": [1, 2]}
            assert client.post("/square", json={"numbers": [3]}).json() == [9.0]
            enveloped = client.post("/square", json={"input": {"numbers": [3]}})
            assert enveloped.json()["output"] == [9.0]
            assert enveloped.json()["status"] == "COMPLETED"
    finally:
        stop(process)
    output = (tmp_path / "log").read_text(errors="replace")
    assert "Traceback" not in output, output
