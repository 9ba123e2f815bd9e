"""`flashctl emulator --run-workers`: the deployed endpoints' real workers, RunPod's load
balancer in front of them, and RunPod's REQUEST_COUNT scaler.

Load balancer (as RunPod documents its own): `http://HOST:PORT/<endpoint id>/<path>` (the
endpoint's `requestUrls.base` in this mode) needs the bearer key (401), takes a body of up to
30 MB (413), and goes only to a worker whose `/ping` answers 200; a request that finds none
waits up to `wait_seconds` for one (meanwhile the scaler starts workers) and then gets the 400
RunPod answers; one that runs longer than the endpoint's `timeout` gets 524. A call of the
health path (`/ping`, or the endpoint's HEALTH_CHECK_PATH) with no ready worker is answered 204
(initializing) at once, and wakes a worker. The answer streams back as the worker writes it.

Scaler: an endpoint keeps `workers.min` workers, and as many more (up to `workers.max`) as make
the requests in flight or waiting at most `scaling.requestCount` per worker; a worker with no
request for `workers.idleTimeout` seconds is stopped while there are more than needed. A
release (a change of image, env, ...; see state.py) is rolled out: workers start on the new
version and its context, and once one of them is ready, new requests go only to new workers
while the old ones finish what they serve, then stop. Workers never exceed `max_total`.

Everything runs on the emulator's event loop: one reconcile task (every RECONCILE_SECONDS, and
at once when a request waits) and one health task per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from flashctl.emulator import containers
from flashctl.emulator.proxy import Upstream, UpstreamError, read_body
from flashctl.emulator.state import EmulatorState, new_id
from flashctl.emulator.workers import (
    PASSED_THROUGH,
    Launch,
    PortPool,
    Recorder,
    WorkerOptions,
    WorkerProcess,
    context_launch,
    find_context,
    worker_env,
)
from flashctl.errors import FlashError
from flashctl.images.engines import Engine

LOGGER = logging.getLogger("flashctl.emulator.fleet")
MAX_PAYLOAD = 30 * 1024 * 1024  # RunPod's load-balancer payload cap
PROCESSING_CAP_SECONDS = 330.0  # RunPod's load balancer gives up on a request after 5.5 min
RECONCILE_SECONDS = 0.1
READY_PING_SECONDS = 0.5  # a ready worker's /ping is asked this often
UNHEALTHY_AFTER = 3  # failed /ping calls in a row that make a ready worker UNHEALTHY
CRASH_LINES = 20  # lines of a crashed worker's output kept for /_emulator/workers
CRASH_BACKOFF = 0.5  # seconds before a start after a crash; doubled per crash in a row, to 30


@dataclass(eq=False)
class Worker:
    process: WorkerProcess
    version: int
    image: str
    upstream: Upstream
    started_wall: float
    status: str = "INITIALIZING"  # INITIALIZING | READY | UNHEALTHY | DRAINING | STOPPING
    in_flight: int = 0
    idle_since: float = field(default_factory=time.monotonic)
    ready_wall: float | None = None
    stop_deadline: float | None = None
    failed_pings: int = 0

    @property
    def id(self) -> str:
        return self.process.worker_id


@dataclass
class Pool:
    """One endpoint's workers and the requests waiting for one."""

    endpoint_id: str
    workers: list[Worker] = field(default_factory=list)
    waiting: int = 0
    wake: bool = False  # a health call found no worker: start one
    failure: str | None = None  # why the last start failed, shown in the worker log
    crashes: int = 0  # workers in a row that exited on their own: starts back off
    last_crash: list[str] = field(default_factory=list)  # the last lines of the last one
    next_start: float = 0.0  # monotonic time before which no worker is started
    available: asyncio.Event = field(default_factory=asyncio.Event)


class Fleet:
    """The workers of every endpoint of `state`; `handle` is the load balancer's ASGI app."""

    def __init__(
        self,
        state: EmulatorState,
        options: WorkerOptions,
        api_key_check: Callable[[Headers], Any],
        record: Recorder | None = None,
    ) -> None:
        self.state = state
        self.options = options
        self._check_key = api_key_check
        self._record: Recorder = record or (lambda endpoint_id, worker_id, line: None)
        self.ports = PortPool(*options.ports)
        self.pools: dict[str, Pool] = {}
        self._task: asyncio.Task[None] | None = None
        self._health: dict[Worker, asyncio.Task[None]] = {}
        self._kick = asyncio.Event()
        # image ref -> the image an engine has (None: none has it), looked up once per image
        self._images: dict[str, containers.Image | None] = {}
        self._looking: dict[str, asyncio.Task[None]] = {}
        self._engines: asyncio.Task[list[Engine]] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        if self.options.source != "context":
            self._engines = loop.create_task(asyncio.to_thread(self._find_engines))

    @staticmethod
    def _find_engines() -> list[Engine]:
        """The usable engines; the working containers a killed emulator left are removed."""
        engines = containers.usable_engines(shutil.which)
        containers.remove_leftovers(engines)
        return engines

    async def stop(self) -> None:
        """Stop the reconcile task and every worker (SIGTERM, then SIGKILL after stop_seconds)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for lookup in [self._engines, *self._looking.values()]:
            if lookup is not None:
                lookup.cancel()
        for task in self._health.values():
            task.cancel()
        workers = [w for pool in self.pools.values() for w in pool.workers]
        for worker in workers:
            worker.process.terminate()
        deadline = time.monotonic() + self.options.stop_seconds
        for worker in workers:
            while worker.process.exited() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            self._forget(worker)
        self.pools.clear()

    def kill_all(self) -> None:
        """SIGKILL every worker now; the last resort when the loop cannot run `stop`."""
        for pool in self.pools.values():
            for worker in pool.workers:
                worker.process.kill()

    def crashes(self) -> dict[str, list[str]]:
        """The last lines of each endpoint's last crashed worker, for `/_emulator/workers`."""
        return {pool.endpoint_id: pool.last_crash for pool in self.pools.values() if pool.crashes}

    def processes(self) -> list[dict[str, Any]]:
        """Every worker process, for the `/_emulator/workers` hook."""
        return [
            {
                "endpointId": pool.endpoint_id,
                "id": w.id,
                "pid": w.process.pid,
                "port": w.process.port,
                "status": w.status,
                "source": w.process.launch.source,
                "container": w.process.launch.container,
                "version": w.version,
                "inFlight": w.in_flight,
                "lines": list(w.process.lines),
            }
            for pool in self.pools.values()
            for w in pool.workers
        ]

    # -- the API's views ---------------------------------------------------------------------

    def workers_view(self, endpoint_id: str) -> dict[str, Any]:
        """`ListEndpointWorkersResponse` of the real workers (stopping ones left out)."""
        version = self.state.version(endpoint_id)
        endpoint = self.state.stored(endpoint_id) or {}
        gpu = endpoint.get("gpu")
        now = time.time()
        workers: list[dict[str, Any]] = []
        pool = self.pools.get(endpoint_id)
        for worker in pool.workers if pool else []:
            if worker.status == "STOPPING":
                continue
            ready = worker.ready_wall is not None
            status = {
                "READY": "RUNNING" if worker.in_flight else "IDLE",
                "DRAINING": "RUNNING" if worker.in_flight else "IDLE",
            }.get(worker.status, worker.status)
            workers.append(
                {
                    "id": worker.id,
                    "status": status,
                    "isStale": worker.version != version,
                    "version": worker.version,
                    "gpuCount": gpu.get("count", 1) if gpu else 0,
                    "image": worker.image,
                    "uptimeSeconds": int(now - worker.ready_wall) if worker.ready_wall else None,
                    "gpuTypeId": None,
                    "dataCenterId": "LOCAL" if ready else None,
                    "startedAt": _iso(worker.ready_wall) if worker.ready_wall else None,
                }
            )
        summary = {s: 0 for s in ("running", "idle", "initializing", "throttled", "unhealthy")}
        for entry in workers:
            summary[entry["status"].lower()] += 1
        summary["total"] = len(workers)
        return {"workers": workers, "summary": summary, "endpointVersion": version}

    def rollout(self, endpoint_id: str) -> tuple[dict[str, Any], dict[int, int]]:
        """`RolloutSummary` and worker counts per version, of the real workers."""
        version = self.state.version(endpoint_id)
        pool = self.pools.get(endpoint_id)
        live = [w for w in (pool.workers if pool else []) if w.status != "STOPPING"]
        on_latest = sum(1 for w in live if w.version == version)
        counts: dict[int, int] = {}
        for worker in live:
            counts[worker.version] = counts.get(worker.version, 0) + 1
        summary = {
            "inProgress": on_latest < len(live),
            "workersOnLatest": on_latest,
            "workersTotal": len(live),
            "percentOnLatest": on_latest * 100 // len(live) if live else 0,
        }
        return summary, counts

    # -- the load balancer -------------------------------------------------------------------

    async def handle(self, endpoint_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """One request to `/<endpoint_id>/...`."""
        from flashctl.emulator.app import problem

        endpoint = self.state.peek(endpoint_id)
        headers = Headers(scope=scope)
        refusal = self._check_key(headers)
        if refusal is None and endpoint is None:
            refusal = problem(404, "endpoint not found")
        declared = headers.get("content-length", "")
        if refusal is None and declared.isdigit() and int(declared) > MAX_PAYLOAD:
            refusal = _too_large()
        body = b""
        if refusal is None:
            read = await read_body(receive, MAX_PAYLOAD)
            refusal = _too_large() if read is None else None
            body = read or b""
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        assert endpoint is not None
        pool = self.pools.setdefault(endpoint_id, Pool(endpoint_id))
        path = scope["path"][len(endpoint_id) + 1 :] or "/"
        health = endpoint["env"].get("HEALTH_CHECK_PATH", "/ping")
        worker = self._pick(pool)
        if worker is None and path == "/" + health.lstrip("/"):
            pool.wake = True
            self._kick.set()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if worker is None:
            worker = await self._wait_for_worker(pool)
        if worker is None:
            why = f" ({pool.failure})" if pool.failure else ""
            await problem(
                400,
                f"no worker of endpoint {endpoint_id} became ready within"
                f" {self.options.wait_seconds:g} s{why}; retry later",
            )(scope, receive, send)
            return
        target = path.encode() + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        limit = min(endpoint.get("timeout", 300_000) / 1000, PROCESSING_CAP_SECONDS)
        worker.in_flight += 1
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            async with asyncio.timeout(limit):  # no task per request, unlike wait_for
                await worker.upstream.forward(
                    scope["method"], target, scope["headers"], body, tracked
                )
        except UpstreamError as err:
            if not started:
                await problem(502, f"worker {worker.id} failed: {err}")(scope, receive, send)
        except asyncio.TimeoutError:
            if not started:
                await problem(524, f"the worker did not answer within {limit:g} s")(
                    scope, receive, send
                )
        finally:
            worker.in_flight -= 1
            worker.idle_since = time.monotonic()
            if worker.in_flight == 0 and worker.status == "DRAINING":
                self._kick.set()

    def _pick(self, pool: Pool) -> Worker | None:
        """The ready worker with the fewest requests in flight, on the newest version first."""
        best: Worker | None = None
        for worker in pool.workers:
            if worker.status != "READY":
                continue
            if best is None or (worker.version, -worker.in_flight) > (
                best.version,
                -best.in_flight,
            ):
                best = worker
        return best

    async def _wait_for_worker(self, pool: Pool) -> Worker | None:
        deadline = time.monotonic() + self.options.wait_seconds
        pool.waiting += 1
        try:
            self._kick.set()
            while (worker := self._pick(pool)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                pool.available.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(pool.available.wait(), left)
            return worker
        finally:
            pool.waiting -= 1

    # -- the scaler --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                self._reconcile()
            except Exception:  # one bad round must not end the fleet
                LOGGER.exception("reconciling the workers failed")
            self._kick.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), RECONCILE_SECONDS)

    def _reconcile(self) -> None:
        ids = set(self.state.ids())
        for endpoint_id in list(self.pools):
            if endpoint_id not in ids:
                pool = self.pools[endpoint_id]
                for worker in pool.workers:
                    self._stop(worker)
                self._reap(pool)
                if not pool.workers:
                    del self.pools[endpoint_id]
        for endpoint_id in sorted(ids):
            endpoint = self.state.peek(endpoint_id)
            if endpoint is None:
                continue
            pool = self.pools.setdefault(endpoint_id, Pool(endpoint_id))
            self._reap(pool)
            self._scale(pool, endpoint, self.state.version(endpoint_id))

    def _scale(self, pool: Pool, endpoint: dict[str, Any], version: int) -> None:
        workers = endpoint["workers"]
        low, high = int(workers["min"]), int(workers["max"])
        per_worker = max(1, int(endpoint["scaling"].get("requestCount") or 1))
        idle_timeout = float(workers.get("idleTimeout") or 5)
        current = [w for w in pool.workers if w.version == version and w.status != "STOPPING"]
        stale = [w for w in pool.workers if w.version != version and w.status != "STOPPING"]

        demand = sum(w.in_flight for w in pool.workers) + pool.waiting
        wanted = math.ceil(demand / per_worker)
        if pool.wake:
            wanted = max(wanted, 1)
            pool.wake = False
        # Old workers are replaced one for one while they still serve.
        wanted = min(high, max(low, wanted, len([w for w in stale if w.in_flight])))
        usable = [w for w in current if w.status != "DRAINING"]
        for _ in range(wanted - len(usable)):
            if not self._start(pool, endpoint, version):
                break

        # A rolling release: once a new worker is ready, old ones take no new request; an old
        # one idle for idle_timeout goes anyway. RunPod removes an unhealthy worker.
        now = time.monotonic()
        new_ready = any(w.status == "READY" for w in current)
        for worker in stale:
            if new_ready or (worker.in_flight == 0 and now - worker.idle_since >= idle_timeout):
                worker.status = "DRAINING"
        for worker in current:
            if worker.status == "UNHEALTHY":
                worker.status = "DRAINING"
        # Scale in: workers idle for idle_timeout beyond what is wanted, idle ones first.
        spare = len(usable) - wanted
        for worker in sorted(usable, key=lambda w: w.idle_since):
            if spare <= 0:
                break
            idle = worker.status == "READY" and worker.in_flight == 0
            if idle and now - worker.idle_since >= idle_timeout:
                worker.status = "DRAINING"
                spare -= 1
        for worker in pool.workers:
            if worker.status == "DRAINING" and worker.in_flight == 0:
                self._stop(worker)

    def _start(self, pool: Pool, endpoint: dict[str, Any], version: int) -> bool:
        if time.monotonic() < pool.next_start:
            return False  # the last workers crashed: wait before the next try
        total = sum(1 for p in self.pools.values() for w in p.workers if w.status != "STOPPING")
        if total >= self.options.max_total:
            return self._failed(pool, f"the cap of {self.options.max_total} workers is reached")
        image = self._image(pool, endpoint.get("image", ""))
        if image is False:
            return False  # looked up in the background: the next round starts it
        worker_id = new_id()
        notes: list[str] = []
        if isinstance(image, containers.Image):
            image_env: dict[str, str] = {}  # the engine applies the image's ENV
        else:
            try:
                context = find_context(self.options.contexts, endpoint["name"])
            except FlashError as err:
                return self._failed(pool, str(err))
            launch, image_env = context_launch(context, notes.append), dict(context.image_env)
        port = self.ports.take()
        if port is None:
            return self._failed(pool, f"no free port in --worker-ports {self.options.ports}")
        env = worker_env(
            image_env,
            endpoint["env"],
            self.options.secrets,
            port,
            worker_id,
            notes.append,
        )
        if isinstance(image, containers.Image):
            launch = self._image_launch(image, worker_id, env)
        try:
            process = WorkerProcess(pool.endpoint_id, worker_id, launch, env, port, self._record)
        except OSError as err:
            self.ports.give_back(port)
            return self._failed(pool, f"cannot start a worker: {err}")
        for note in notes:
            process.note(note)
        worker = Worker(process, version, endpoint.get("image", ""), Upstream(port), time.time())
        pool.workers.append(worker)
        pool.failure = None
        self._health[worker] = asyncio.get_running_loop().create_task(self._watch(pool, worker))
        return True

    def _image_launch(self, image: containers.Image, worker_id: str, env: dict[str, str]) -> Launch:
        """supervisor.py keeping a container of `image` that gets `env` but for the variables
        of the emulator's own environment (PATH, HOME, ...: the image has its own). The
        service gets SIGKILL a bit before stop_seconds, so that the removal fits in."""
        name = containers.container_name(worker_id)
        names = [variable for variable in env if variable not in PASSED_THROUGH]
        grace = max(1.0, self.options.stop_seconds - 2.0)
        spec = containers.supervisor_spec(image, name, names, grace)
        return Launch(tuple(containers.supervisor_argv(spec)), None, "image", name)

    def _image(self, pool: Pool, ref: str) -> containers.Image | bool | None:
        """The image a worker of `ref` runs: None for the context; False while it is looked up
        (in a thread: engines answer slowly) or when `--workers-from image` finds none."""
        if self.options.source == "context" or self._engines is None:
            return None
        if ref in self._images:
            found = self._images[ref]
            if found is None and self.options.source == "image":
                return self._failed(
                    pool,
                    f"no container engine has the image {ref or '(none)'}"
                    " (--workers-from image): build it (`flashctl build`) or use"
                    " --workers-from context",
                )
            return found
        if ref not in self._looking:
            self._looking[ref] = asyncio.get_running_loop().create_task(self._look_up(ref))
        pool.wake = pool.wake or not pool.workers  # a health call's wake-up waits for it
        return False

    async def _look_up(self, ref: str) -> None:
        assert self._engines is not None
        try:
            engines = await self._engines
            self._images[ref] = await asyncio.to_thread(containers.find_image, ref, engines)
        except Exception:  # an engine that fails to answer: the context is used
            LOGGER.exception("looking up the image %s failed", ref)
            self._images[ref] = None
        finally:
            self._looking.pop(ref, None)
            self._kick.set()

    def _failed(self, pool: Pool, reason: str) -> bool:
        if pool.failure != reason:
            pool.failure = reason
            LOGGER.warning("endpoint %s: %s", pool.endpoint_id, reason)
            self._record(pool.endpoint_id, "", f"emulator: {reason}")
        return False

    def _stop(self, worker: Worker) -> None:
        if worker.status == "STOPPING":
            return
        worker.status = "STOPPING"
        worker.stop_deadline = time.monotonic() + self.options.stop_seconds
        worker.process.terminate()

    def _reap(self, pool: Pool) -> None:
        now = time.monotonic()
        for worker in list(pool.workers):
            code = worker.process.exited()
            if code is None:
                if worker.stop_deadline is not None and now > worker.stop_deadline:
                    worker.process.kill()
                continue
            if worker.status != "STOPPING":
                worker.process.note(f"emulator: worker exited with code {code}")
                pool.crashes += 1
                pool.last_crash = list(worker.process.lines)[-CRASH_LINES:]
                pool.next_start = now + min(CRASH_BACKOFF * 2 ** (pool.crashes - 1), 30.0)
            pool.workers.remove(worker)
            self._forget(worker)

    def _forget(self, worker: Worker) -> None:
        task = self._health.pop(worker, None)
        if task is not None:
            task.cancel()
        worker.upstream.close()
        self.ports.give_back(worker.process.port)

    async def _watch(self, pool: Pool, worker: Worker) -> None:
        """Ask the worker's /ping until it exits: 200 ready, 204 initializing, else unhealthy."""
        endpoint = self.state.stored(pool.endpoint_id) or {"env": {}}
        path = "/" + endpoint["env"].get("HEALTH_CHECK_PATH", "/ping").lstrip("/")
        while worker.process.exited() is None and worker.status != "STOPPING":
            status = await _ping(worker.process.port, path)
            if worker.status in ("STOPPING", "DRAINING"):
                pass
            elif status == 200:
                if worker.ready_wall is None:
                    worker.ready_wall = time.time()
                    worker.idle_since = time.monotonic()
                worker.failed_pings = 0
                pool.crashes = 0
                if worker.status != "READY":
                    worker.status = "READY"
                    pool.available.set()
                    self._kick.set()
            elif status in (204, None) and worker.ready_wall is None:
                worker.status = "INITIALIZING"
            else:
                worker.failed_pings += 1
                if worker.failed_pings >= UNHEALTHY_AFTER:
                    worker.status = "UNHEALTHY"
            ready = worker.status == "READY"
            await asyncio.sleep(READY_PING_SECONDS if ready else self.options.ping_interval)


async def _ping(port: int, path: str) -> int | None:
    """The status of GET `path` on the worker; None when it does not answer (yet)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        request = f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
        writer.write(request.encode())
        line = await asyncio.wait_for(reader.readline(), 2.0)
        return int(line.split(b" ", 2)[1])
    except (OSError, asyncio.TimeoutError, IndexError, ValueError):
        return None
    finally:
        writer.close()


def _too_large() -> Any:
    from flashctl.emulator.app import problem

    return problem(413, f"request body is larger than {MAX_PAYLOAD} bytes (30 MB)")


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
