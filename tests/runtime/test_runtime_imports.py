"""A service's cold start imports nothing it does not need (B2): starting the lifespan, with a
startup hook, and answering a request leave anyio's asyncio backend unloaded, and the trace
exporter's HTTP client too when no OTLP endpoint is set."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, json, sys
from flashctl_runtime import Route, Settings, create_app

def hello():
    return {"ok": True}

async def warm():
    await asyncio.sleep(0)

app = create_app([Route("GET", "/hello", hello)], Settings(startup=warm))

async def main():
    sent = []
    lifespan = [{"type": "lifespan.startup"}]
    async def receive():
        if lifespan:
            return lifespan.pop(0)
        await asyncio.sleep(0.05)  # let the hook finish, then shut down
        return {"type": "lifespan.shutdown"}
    async def send(message):
        sent.append(message["type"])
    request = {"type": "http", "method": "GET", "path": "/hello", "query_string": b"",
               "headers": [], "asgi": {"version": "3.0"}}
    async def no_body():
        return {"type": "http.request", "body": b"", "more_body": False}
    await app(request, no_body, send)
    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    return sent

sent = asyncio.run(main())
loaded = sorted(
    m for m in sys.modules if m.startswith("anyio._backends") or m == "urllib.request"
)
print("RESULT=" + json.dumps({"sent": sent, "loaded": loaded}))
"""


def test_lifespan_and_a_request_do_not_load_anyios_backend() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT=")]
    assert lines, f"probe failed:\n{done.stdout}\n{done.stderr}"
    result = json.loads(lines[-1].removeprefix("RESULT="))
    assert "lifespan.startup.complete" in result["sent"]
    assert "lifespan.shutdown.complete" in result["sent"]
    assert "http.response.start" in result["sent"]
    assert result["loaded"] == []
