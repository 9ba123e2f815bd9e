"""The seed example's batched route (`POST /embed` on the gpu endpoint, `batch:` and
`runtime.metrics: true`), rendered and served as its container would: a real server on
127.0.0.1 from the rendered build context."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import msgpack
import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_loaded
from tests.conftest import EXAMPLE, ROOT
from tests.runtime.exposition import parse, series
from tests.servers import free_port, start_runtime, wait_for_status

sys.path.insert(0, str(ROOT / "examples" / "seed"))

import gpu_worker

TEXTS = [f"text number {i} " * (i % 5 + 1) for i in range(24)]


class Served:
    def __init__(self, process: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.process, self.base, self.log = process, base, log


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("rendered")
    files = render_loaded(load_valid_project(EXAMPLE, variables={}, environment=None))
    for name, data in files.items():
        if name.startswith("gpu/"):
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    port = free_port()
    log = root / "gpu.log"
    process = start_runtime(root / "gpu", "handler_service:app", "hypercorn", port, log)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/ping", 200, timeout=60, process=None)
        yield Served(process, f"http://127.0.0.1:{port}", log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def post_many(base: str, bodies: list[object]) -> list[httpx.Response]:
    """All at once, from as many threads over one client (so they can share batches)."""
    limits = httpx.Limits(max_connections=len(bodies))
    with (
        httpx.Client(base_url=base, timeout=15.0, limits=limits) as client,
        ThreadPoolExecutor(len(bodies)) as pool,
    ):
        futures = [pool.submit(client.post, "/embed", json=body) for body in bodies]
        return [future.result(timeout=30) for future in futures]


def test_concurrent_callers_each_get_the_embedding_of_their_own_text(served):
    responses = post_many(served.base, [{"text": text} for text in TEXTS])
    assert [r.status_code for r in responses] == [200] * len(TEXTS)
    for text, response in zip(TEXTS, responses, strict=True):
        [expected] = gpu_worker.embed([{"text": text}])
        assert isinstance(expected, dict)
        assert response.json()["embedding"] == expected["embedding"]
        assert 1 <= response.json()["batch"] <= 32


def test_a_bad_body_fails_alone_while_the_others_of_its_burst_succeed(served):
    bodies: list[object] = [{"text": "fine"}] * 5 + [{"txt": "typo"}] + [{"text": "also"}] * 5
    responses = post_many(served.base, bodies)
    assert [r.status_code for r in responses] == [200] * 5 + [400] + [200] * 5
    assert responses[5].json()["detail"] == 'send {"text": "..."}'


def test_msgpack_in_and_out_on_the_batched_route(served):
    response = httpx.post(
        f"{served.base}/embed",
        content=msgpack.packb({"text": "packed"}),
        headers={"content-type": "application/msgpack", "accept": "application/msgpack"},
        timeout=15.0,
    )
    assert response.status_code == 200
    assert len(msgpack.unpackb(response.content)["embedding"]) == gpu_worker.DIMS


def test_metrics_count_every_embed_request_in_some_batch(served):
    before = parse(httpx.get(f"{served.base}/metrics", timeout=5.0).text)
    [old] = series(before, "flashctl_batch_size_sum", http_route="/embed") or [None]
    responses = post_many(served.base, [{"text": text} for text in TEXTS[:10]])
    assert all(r.status_code == 200 for r in responses)
    after = parse(httpx.get(f"{served.base}/metrics", timeout=5.0).text)
    [total] = series(after, "flashctl_batch_size_sum", http_route="/embed")
    [calls] = series(after, "flashctl_batch_size_count", http_route="/embed")
    [waits] = series(after, "flashctl_batch_wait_seconds_count", http_route="/embed")
    assert total.value - (old.value if old else 0) == 10
    assert 1 <= calls.value <= total.value == waits.value
    durations = series(after, "http_server_request_duration_seconds_count", http_route="/embed")
    assert sum(sample.value for sample in durations) >= 10


def test_the_other_routes_of_the_endpoint_still_answer(served):
    computed = httpx.post(f"{served.base}/compute", json={"numbers": [3, 4]}, timeout=15.0)
    assert computed.json() == {"count": 2, "sum_of_squares": 25}
