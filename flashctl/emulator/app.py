"""The emulator's HTTP surface: RunPod's serverless routes plus a few `/_emulator` test hooks.

    GET    /v2/serverless                 200 {"endpoints": [...]}
    POST   /v2/serverless                 201 Endpoint | 400 | 422
    GET    /v2/serverless/{id}            200 Endpoint | 404
    PATCH  /v2/serverless/{id}            200 Endpoint | 400 | 404 | 422
    DELETE /v2/serverless/{id}            204 | 404
    GET    /v2/serverless/{id}/workers    200 {"workers": [...], "summary": {...}} | 404
    GET    /v2/serverless/{id}/releases   200 {"endpointVersion", "rollout", "releases"} | 404
    GET    /v2/serverless/{id}/workers/{workerId}/logs   200 text/event-stream | 400 | 404
                                          (worker_logs.py; the response streams while it is open)
    GET    /v2/catalog/gpus|cpus|datacenters   200 | 400 | 422 (query parameters: catalog_query.py)
    GET    /v2/registries                 200 {"registries": [{"id", "name"}]}
    POST   /v2/registries                 201 {"id", "name"} | 400 | 422 (the login is kept nowhere)
    GET    /v2/registries/{id}            200 {"id", "name"} | 404
    DELETE /v2/registries/{id}            204 | 404
    GET    /v2/billing/serverless         200 {"records": [...], "metadata": {...}} | 400

Every `/v2` request needs `Authorization: Bearer KEY` (401 otherwise, decided before the body is
read, and an unauthenticated body is never kept), may be refused by RunPod's per-key rate limits
when they are enforced (429 with Retry-After, see `rate_limit.py`) and may meet an injected fault
(see `faults.py`). A body over `MAX_BODY` bytes gets 413; one that is not JSON (NaN and
Infinity included) or nests deeper than `MAX_DEPTH` gets 400. Errors are
`application/problem+json` `{title, status, detail, errors?}` as RunPod sends them.

Emulator-only hooks, unauthenticated and never faulted (RunPod has nothing like them):

    GET  /_emulator/requests   counts per "METHOD /template" and the request log
    POST /_emulator/reset      forget all endpoints, the log and scripted faults
    POST /_emulator/faults     {"faults": [{"kind": "drop_after", "match": "POST /v2/serverless"}]}
    POST /_emulator/serverless/{id}/busy   {"workers": N}: N workers serve a request (RUNNING),
                               so a rolling update replaces them last
    POST /_emulator/serverless/{id}/workers/{workerId}/logs   {"lines": [...], "source"?}:
                               the worker writes these lines (source: container or system)
    POST /_emulator/serverless/{id}/workers/{workerId}/logs/drop   {"after": N}: cut the
                               worker's log stream after N more events, as a lost connection
    GET  /_emulator/workers    `--run-workers`: each worker process (pid, port, status, output)

With `--run-workers` (fleet.py), `/<endpoint id>/...` is the endpoints' load balancer, and
`/workers` and `/releases` report the real worker processes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flashctl.emulator import billing, catalog, catalog_query, schema, worker_logs
from flashctl.emulator.faults import FaultInjector, ScriptedFault
from flashctl.emulator.proxy import read_body
from flashctl.emulator.rate_limit import RateLimiter, Verdict
from flashctl.emulator.request_log import RequestLog, redacted, route_template
from flashctl.emulator.state import EmulatorState

if TYPE_CHECKING:
    from flashctl.emulator.fleet import Fleet

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_RATE_POLICY = '"minute";q=600;w=60'
LOGS_PATH = "/v2/serverless/{id}/workers/{workerId}/logs"  # served as a stream (SSE)
MAX_BODY = 1024 * 1024  # bytes; RunPod's request bodies are a few KB
MAX_DEPTH = 32  # nesting of a JSON body; RunPod's bodies nest 4 deep
# A refused body up to this size is read and dropped, so that the client reads the answer
# instead of a reset connection; a longer one is cut off.
_DRAIN_LIMIT = 16 * MAX_BODY
STREAM_LOG_LIMIT = 64 * 1024  # bytes of a streamed response kept in the request log


@dataclass
class Emulator:
    """Everything one running emulator holds; tests in the same process may use it directly."""

    state: EmulatorState
    faults: FaultInjector
    log: RequestLog
    api_key: str | None = None  # None: any non-empty bearer token is accepted
    latency_ms: float = 0.0
    retry_after: int = 1  # seconds, in a 429's Retry-After
    worker_logs: worker_logs.WorkerLogs = field(default_factory=worker_logs.WorkerLogs)
    limiter: RateLimiter | None = None  # RunPod's per-key rate limits, when enforced
    fleet: Fleet | None = None  # `--run-workers`: real workers behind a load balancer


def problem(
    status: int,
    detail: str,
    errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An `application/problem+json` response shaped like RunPod's `ErrorResponse`."""
    body: dict[str, Any] = {
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def build_app(emulator: Emulator) -> ASGIApp:
    """The Starlette routes wrapped in the gate that authenticates, delays, faults and logs."""
    state = emulator.state

    async def list_registries(request: Request) -> Response:
        return JSONResponse({"registries": state.registries()})

    async def create_registry(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if errors := registry_errors(body):
            return problem(422, "Request validation failed.", errors)
        return JSONResponse(state.create_registry(body["name"]), 201)

    async def get_registry(request: Request) -> Response:
        found = state.registry(request.path_params["id"])
        return JSONResponse(found) if found else problem(404, "registry not found")

    async def delete_registry(request: Request) -> Response:
        deleted = state.delete_registry(request.path_params["id"])
        return Response(status_code=204) if deleted else problem(404, "registry not found")

    async def serverless_billing(request: Request) -> Response:
        now, usage = state.usage()
        try:
            return JSONResponse(billing.serverless_billing(now, usage, request.query_params))
        except ValueError as err:
            return problem(400, str(err))

    async def list_endpoints(request: Request) -> Response:
        return JSONResponse({"endpoints": state.list()})

    async def create_endpoint(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if errors := schema.schema_errors(body, create=True):
            return problem(422, "Request validation failed.", errors)
        if problems := schema.create_rule_errors(body, other_workers=state.max_workers()):
            return problem(400, "; ".join(problems))
        if "templateId" in body:
            return problem(404, f"template {body['templateId']!r} not found")
        if unknown := _unknown_registry(body):
            return unknown
        return JSONResponse(state.create(body), 201)

    async def get_endpoint(request: Request) -> Response:
        endpoint = state.get(request.path_params["id"])
        return JSONResponse(endpoint) if endpoint else _not_found()

    async def update_endpoint(request: Request) -> Response:
        endpoint_id = request.path_params["id"]
        endpoint = state.stored(endpoint_id)
        if endpoint is None:
            return _not_found()
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if errors := schema.schema_errors(body, create=False):
            return problem(422, "Request validation failed.", errors)
        others = state.max_workers(excluding=endpoint_id)
        if problems := schema.update_rule_errors(body, endpoint, other_workers=others):
            return problem(400, "; ".join(problems))
        if "templateId" in body:
            return problem(404, f"template {body['templateId']!r} not found")
        if unknown := _unknown_registry(body):
            return unknown
        return JSONResponse(state.update(endpoint_id, body))

    async def delete_endpoint(request: Request) -> Response:
        deleted = state.delete(request.path_params["id"])
        if deleted:
            emulator.worker_logs.forget(request.path_params["id"])
        return Response(status_code=204) if deleted else _not_found()

    async def list_workers(request: Request) -> Response:
        endpoint_id = request.path_params["id"]
        if state.get(endpoint_id) is None:
            return _not_found()
        if emulator.fleet is not None:
            return JSONResponse(emulator.fleet.workers_view(endpoint_id))
        return JSONResponse(state.workers(endpoint_id))

    async def list_releases(request: Request) -> Response:
        endpoint_id = request.path_params["id"]
        if state.get(endpoint_id) is None:
            return _not_found()
        releases = state.releases(endpoint_id)
        if emulator.fleet is not None:  # the real workers' rollout
            releases["rollout"], counts = emulator.fleet.rollout(endpoint_id)
            for release in releases["releases"]:
                release["workerCount"] = counts.get(release["version"], 0)
        return JSONResponse(releases)

    def _unknown_registry(body: Any) -> Response | None:
        registry = body.get("registry") if isinstance(body, dict) else None
        if registry is None or state.registry(str(registry)) is not None:
            return None
        return problem(400, "registry: no container registry credential has this id")

    def known_worker(request: Request) -> tuple[str, str] | Response:
        """(endpoint id, worker id) of a worker that has started, or the 404; simulated workers
        write their start line first."""
        endpoint_id, worker_id = request.path_params["id"], request.path_params["workerId"]
        if state.get(endpoint_id) is None:
            return _not_found()
        if emulator.fleet is None:  # real workers (--run-workers) write their own lines
            worker_logs.begin_workers(
                emulator.worker_logs, endpoint_id, state.live_workers(endpoint_id)
            )
        if not emulator.worker_logs.has(endpoint_id, worker_id):
            return problem(404, "worker not found")
        return endpoint_id, worker_id

    async def stream_worker_logs(request: Request) -> Response:
        known = known_worker(request)
        if isinstance(known, Response):
            return known
        try:
            query = worker_logs.parse_query(
                request.query_params, request.headers.get("last-event-id")
            )
        except ValueError as err:
            return problem(400, str(err))
        return worker_logs.EventStream(emulator.worker_logs, *known, query)

    def catalog_route(kind: str) -> Route:
        async def read(request: Request) -> Response:
            try:
                if kind == "gpus":
                    answer = catalog.gpus(catalog_query.gpu_query(request.query_params))
                elif kind == "cpus":
                    answer = catalog.cpus(catalog_query.cpu_query(request.query_params))
                else:
                    answer = catalog.datacenters(
                        catalog_query.data_center_query(request.query_params)
                    )
            except catalog_query.QueryError as err:
                return problem(err.status, err.detail)
            return JSONResponse(answer)

        return Route(f"/v2/catalog/{kind}", read, methods=["GET"])

    async def requests_hook(request: Request) -> Response:
        return JSONResponse(emulator.log.snapshot())

    async def reset_hook(request: Request) -> Response:
        state.reset()
        emulator.worker_logs.clear()
        emulator.log.reset()
        emulator.faults.clear()
        return Response(status_code=204)

    async def faults_hook(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        try:
            emulator.faults.script(
                [ScriptedFault(f["kind"], f.get("match")) for f in body.get("faults", [])]
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            return problem(400, f"bad fault script: {err}")
        return Response(status_code=204)

    async def busy_hook(request: Request) -> Response:
        endpoint_id = request.path_params["id"]
        if state.get(endpoint_id) is None:
            return _not_found()
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        count = body.get("workers") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return problem(400, 'expected {"workers": N} with N >= 0')
        state.set_busy(endpoint_id, count)
        return Response(status_code=204)

    async def write_logs_hook(request: Request) -> Response:
        known = known_worker(request)
        if isinstance(known, Response):
            return known
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        lines = body.get("lines") if isinstance(body, dict) else None
        source = body.get("source", "container") if isinstance(body, dict) else None
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            return problem(400, 'expected {"lines": ["..."], "source": "container"|"system"}')
        if source not in worker_logs.SOURCES:
            return problem(400, f"source must be one of {', '.join(worker_logs.SOURCES)}")
        for line in lines:
            emulator.worker_logs.append(*known, line, source=source)
        return Response(status_code=204)

    async def drop_logs_hook(request: Request) -> Response:
        known = known_worker(request)
        if isinstance(known, Response):
            return known
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        after = body.get("after", 0) if isinstance(body, dict) else None
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            return problem(400, 'expected {"after": N} with N >= 0')
        emulator.worker_logs.drop(*known, after)
        return Response(status_code=204)

    async def workers_hook(request: Request) -> Response:
        fleet = emulator.fleet
        if fleet is None:
            return JSONResponse({"workers": [], "crashed": {}})
        return JSONResponse({"workers": fleet.processes(), "crashed": fleet.crashes()})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = "no such route" if exc.status_code == 404 else exc.detail
        return problem(exc.status_code, detail, headers=exc.headers)

    routes = [
        Route("/v2/serverless", list_endpoints, methods=["GET"]),
        Route("/v2/serverless", create_endpoint, methods=["POST"]),
        Route("/v2/serverless/{id}", get_endpoint, methods=["GET"]),
        Route("/v2/serverless/{id}", update_endpoint, methods=["PATCH"]),
        Route("/v2/serverless/{id}", delete_endpoint, methods=["DELETE"]),
        Route("/v2/serverless/{id}/workers", list_workers, methods=["GET"]),
        Route("/v2/serverless/{id}/releases", list_releases, methods=["GET"]),
        Route(LOGS_PATH, stream_worker_logs, methods=["GET"]),
        *(catalog_route(kind) for kind in ("gpus", "cpus", "datacenters")),
        Route("/v2/registries", list_registries, methods=["GET"]),
        Route("/v2/registries", create_registry, methods=["POST"]),
        Route("/v2/registries/{id}", get_registry, methods=["GET"]),
        Route("/v2/registries/{id}", delete_registry, methods=["DELETE"]),
        Route("/v2/billing/serverless", serverless_billing, methods=["GET"]),
        Route("/_emulator/requests", requests_hook, methods=["GET"]),
        Route("/_emulator/reset", reset_hook, methods=["POST"]),
        Route("/_emulator/faults", faults_hook, methods=["POST"]),
        Route("/_emulator/serverless/{id}/busy", busy_hook, methods=["POST"]),
        Route(f"/_emulator{LOGS_PATH.removeprefix('/v2')}", write_logs_hook, methods=["POST"]),
        Route(f"/_emulator{LOGS_PATH.removeprefix('/v2')}/drop", drop_logs_hook, methods=["POST"]),
        Route("/_emulator/workers", workers_hook, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return _Gate(app, emulator)


class _Gate:
    """ASGI wrapper for `/v2`: latency, bearer auth, faults, RateLimit headers and the log."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v2/"):
            await self.app(scope, receive, send)
            return
        emulator = self.emulator
        headers = Headers(scope=scope)
        template = route_template(scope["path"])
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "template": template,
            "user_agent": headers.get("user-agent", ""),
            "request_body": None,
            "fault": None,
        }
        if emulator.latency_ms:
            await asyncio.sleep(emulator.latency_ms / 1000)

        # The key and the declared size are checked before any of the body is read.
        refusal = self._authenticate(headers) or _too_large(headers)
        verdict = None
        if refusal is None and emulator.limiter is not None:
            verdict = emulator.limiter.check(headers.get("authorization", ""))
            if not verdict.allowed:
                refusal = problem(
                    429,
                    f"rate limit exceeded for the {verdict.exceeded} window",
                    headers={"Retry-After": str(verdict.retry_after)},
                )
        body = b""
        if refusal is None:
            read = await read_body(receive, MAX_BODY)
            refusal = _too_large_response() if read is None else None
            body = read or b""
        if refusal is not None:
            await _drain(receive, _DRAIN_LIMIT)
        fault = None if refusal else emulator.faults.next_fault(f"{scope['method']} {template}")
        entry["fault"] = fault
        entry["request_body"] = redacted(scope["method"], template, _parse(body))
        if refusal is None and fault in ("429", "500", "503"):
            refusal = self._fault_response(fault)
        if refusal is not None:
            if refusal.status_code != 401:
                refusal.headers["RateLimit"] = self._rate_limit(fault, verdict)
                refusal.headers["RateLimit-Policy"] = self._policy(verdict)
            messages = await _capture(refusal, scope, b"")
        elif fault == "drop" or (fault == "drop_after" and template == LOGS_PATH):
            messages = []
        elif template == LOGS_PATH and scope["method"] == "GET":
            await self._stream(scope, receive, send, entry, verdict)
            return
        else:
            messages = await _capture(self.app, scope, body)
            if fault == "drop_after":
                messages = []
            else:
                start = messages[0]
                start["headers"] = [
                    *start.get("headers", []),
                    (b"ratelimit", self._rate_limit(None, verdict).encode()),
                    (b"ratelimit-policy", self._policy(verdict).encode()),
                ]

        if not messages:
            entry.update(status=None, response_body=None)
            emulator.log.record(entry)
            await _drop_connection(send)
            return
        response_body = b"".join(m.get("body", b"") for m in messages[1:])
        entry.update(status=messages[0]["status"], response_body=_parse(response_body))
        emulator.log.record(entry)
        for message in messages:
            await send(message)

    async def _stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        entry: dict[str, Any],
        verdict: Verdict | None,
    ) -> None:
        """Pass a response that streams (a log) through as it is sent; the log records it when
        it ends, with its first STREAM_LOG_LIMIT bytes."""
        kept = bytearray()
        streaming = False

        async def forward(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                streaming = (b"content-type", b"text/event-stream") in [
                    (name.lower(), value.split(b";")[0]) for name, value in message["headers"]
                ]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"ratelimit", self._rate_limit(None, verdict).encode()),
                        (b"ratelimit-policy", self._policy(verdict).encode()),
                    ],
                }
            elif message["type"] == "http.response.body":
                kept.extend(message.get("body", b"")[: STREAM_LOG_LIMIT - len(kept)])
            await send(message)

        entry["status"] = None
        try:
            await self.app(scope, receive, forward)
        finally:
            text = bytes(kept)
            entry["response_body"] = text.decode("utf-8", "replace") if streaming else _parse(text)
            self.emulator.log.record(entry)

    def _authenticate(self, headers: Headers) -> Response | None:
        return authenticate(headers, self.emulator.api_key)

    def _fault_response(self, fault: str) -> Response:
        if fault == "429":
            return problem(
                429,
                "rate limit exceeded for the minute window",
                headers={"Retry-After": str(self.emulator.retry_after)},
            )
        if fault == "503":
            return problem(503, "service temporarily unavailable")
        return problem(500, "internal error")

    def _rate_limit(self, fault: str | None, verdict: Verdict | None) -> str:
        if fault == "429":
            return f'"minute";r=0;t={self.emulator.retry_after}'
        return verdict.state if verdict is not None else '"minute";r=599;t=60'

    @staticmethod
    def _policy(verdict: Verdict | None) -> str:
        return verdict.policy if verdict is not None else _RATE_POLICY


def authenticate(headers: Headers, expected: str | None) -> Response | None:
    """The 401 for a missing or wrong bearer key (`expected` None: any key), else None."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    # Header values arrive as latin-1 text; compare the raw bytes (any byte may come).
    sent = token.strip().encode("latin-1")
    if expected is not None and not secrets.compare_digest(sent, expected.encode()):
        return problem(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    return None


async def _json_body(request: Request) -> Any:
    """The body as a JSON value, or the 400 RunPod answers for one that is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return problem(400, "request body is required")
    try:
        return loads(raw)
    except ValueError as err:
        return problem(400, f"request body is not valid JSON: {err}")


def loads(raw: bytes) -> Any:
    """Strict JSON: no NaN or Infinity (RunPod's parser has none), at most MAX_DEPTH deep;
    a ValueError saying what is wrong otherwise (`nested deeper than 32 levels`)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if _deeper_than(value, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _too_large(headers: Headers) -> Response | None:
    """413 when the declared Content-Length is over MAX_BODY (a chunked body is counted)."""
    declared = headers.get("content-length", "")
    return _too_large_response() if declared.isdigit() and int(declared) > MAX_BODY else None


def _too_large_response() -> Response:
    return problem(413, f"request body is larger than {MAX_BODY} bytes")


async def _drain(receive: Receive, limit: int) -> None:
    """Read and drop what is left of a refused body, up to `limit` bytes."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _capture(app: ASGIApp, scope: Scope, body: bytes) -> list[Message]:
    """Run `app` on an already-read body and keep what it sends instead of sending it."""
    messages: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


async def _drop_connection(send: Send) -> None:
    """Start a response and stop: the server closes the connection with the body unsent.

    ASGI has no way to close a connection without a response; a truncated one is what the
    client of a lost response sees too (it cannot read a status and a complete body).
    """
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"4096"), (b"x-emulator-fault", b"drop")],
        }
    )


def registry_errors(body: Any) -> list[str]:
    """`CreateRegistryRequest`'s rules, each error naming the field, never its value (the
    username and password are write-only: not even an error shows them)."""
    if not isinstance(body, dict):
        return ["<root>: must be an object"]
    errors = [
        f"{key}: unknown field" for key in body if key not in ("name", "username", "password")
    ]
    for key in ("name", "username", "password"):
        value = body.get(key)
        if key not in body:
            errors.append(f"{key}: required")
        elif not isinstance(value, str) or not value:
            errors.append(f"{key}: must be a non-empty string")
    return errors


def _not_found() -> Response:
    return problem(404, "endpoint not found")


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return loads(raw)
    except ValueError:
        return raw[:500].decode("utf-8", "replace")
