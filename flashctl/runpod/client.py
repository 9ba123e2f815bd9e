"""A small client for RunPod's REST v2 serverless API, built on `requests`.

    client = RunPodClient.from_environment()          # key from RUNPOD_API_KEY or config.toml
    endpoint = client.create_endpoint({"name": "shop-api", "type": "LOAD_BALANCER", ...})
    client.request_counts[("POST", "/v2/serverless")]  # 1, or more if it had to retry

Every call has connect/read timeouts and bounded retries (see `retry.py`). A create is never sent
twice blindly: if its response was lost or was a 5xx, the endpoint list is checked first and the
endpoint is returned if it landed. Errors become `RunPodAPIError` / `RunPodConnectionError`.
The API key lives only in the auth hook; it is never logged, repr'd or put in a message.
Debug logs (logger `flashctl.runpod`) show each request's method, URL, status and duration.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

import flashctl
from flashctl.errors import DeployError
from flashctl.runpod.api_url import DEFAULT_API_URL, display_url, resolve_api_url
from flashctl.runpod.auth import REDACTED, BearerAuth
from flashctl.runpod.credentials import Credentials, load_credentials
from flashctl.runpod.errors import (
    RunPodAPIError,
    RunPodConnectionError,
    never_sent,
    read_problem,
    transport_reason,
)
from flashctl.runpod.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

LOGGER = logging.getLogger("flashctl.runpod")

JSONObject = dict[str, Any]
CatalogKind = Literal["gpus", "cpus", "datacenters"]
_CATALOG_KEYS: dict[str, str] = {"gpus": "gpus", "cpus": "cpus", "datacenters": "dataCenters"}
_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and then for each read of the response."""

    connect: float = 5.0
    read: float = 30.0


class RunPodClient:
    """RunPod's serverless endpoints API.

    Calls may run from several threads at once (apply's bounded concurrency): the counter is
    locked and the connection pool keeps up to 16 connections.
    """

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = DEFAULT_API_URL,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = resolve_api_url(base_url, environ={})
        self.credentials = credentials
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        # Counts every HTTP request sent, retries included, per (method, path template).
        self.request_counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._auth = BearerAuth(credentials.api_key)
        self._session = session or requests.Session()
        # Room for concurrent applies; retries are ours, so urllib3's stay off.
        self._session.mount("http://", HTTPAdapter(pool_maxsize=16, max_retries=0))
        self._session.mount("https://", HTTPAdapter(pool_maxsize=16, max_retries=0))
        self._session.headers["User-Agent"] = f"flashctl/{flashctl.__version__}"
        self._session.headers["Accept"] = "application/json, application/problem+json"

    @classmethod
    def from_environment(
        cls,
        api_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> RunPodClient:
        """A client with the key and URL the environment configures (see `resolve_api_url`)."""
        return cls(load_credentials(environ), resolve_api_url(api_url, environ=environ), **options)

    def __repr__(self) -> str:
        return f"RunPodClient({self.base_url!r}, key from {self.credentials.source})"

    def __enter__(self) -> RunPodClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- endpoints ---------------------------------------------------------------------------

    def list_endpoints(self) -> list[JSONObject]:
        """Every serverless endpoint on the account (one GET, retried if it fails)."""
        return self._list_endpoints(deadline=None)

    def _list_endpoints(self, deadline: float | None) -> list[JSONObject]:
        call = _Call("GET", "/v2/serverless", "/v2/serverless", "listing endpoints")
        return _list_field(self._run(call, deadline), "endpoints", call)

    def get_endpoint(self, endpoint_id: str, *, name: str | None = None) -> JSONObject:
        path = f"/v2/serverless/{quote(endpoint_id, safe='')}"
        call = _Call(
            "GET", "/v2/serverless/{id}", path, f"reading {_label(endpoint_id, name)}", name
        )
        return _object(self._run(call), call)

    def create_endpoint(self, body: Mapping[str, Any]) -> JSONObject:
        """Create an endpoint and return it as RunPod describes it (201).

        RunPod does not enforce unique names, so a create sent twice makes two endpoints. When a
        response is lost or is a 5xx, the list is checked for an endpoint with this name and
        the env sent before sending again, and that endpoint is returned if it is there. So
        call this only for a name that does not exist yet (plan/apply know that from their own
        list).
        """
        name = str(body.get("name", ""))
        env = dict(body.get("env") or {})

        def ours(endpoint: JSONObject) -> bool:
            # The name alone could match another project's endpoint made meanwhile; the env
            # (which carries the owner, FLASHCTL_PROJECT) must be the one sent.
            found_env = endpoint.get("env") or {}
            return endpoint.get("name") == name and all(
                found_env.get(key) == value for key, value in env.items()
            )

        def landed(deadline: float, sent_at: float) -> JSONObject | None:
            # The list may show a new endpoint only a while after its create (`settle`): a
            # create is not proven lost until the list has missed it for that long.
            settled = sent_at + self.retry.settle
            while True:
                found = [e for e in self._list_endpoints(deadline) if ours(e)]
                if found:
                    LOGGER.info("endpoint %r was created although its response was lost", name)
                    return found[0]
                now = self._clock()
                if now >= settled:
                    return None  # it would be listed by now had it landed: send it again
                pause = min(self.retry.settle_poll, settled - now)
                if now + pause > deadline:
                    raise NotListedYet(
                        f"It was not sent again: its answer was lost, and RunPod's list does"
                        f" not show it (yet); a new endpoint may take up to"
                        f" {self.retry.settle:g} s to be listed. Run `flashctl apply` again in"
                        f" {self.retry.settle:g} s: it finds the endpoint then, or creates it if"
                        " it never landed."
                    )
                self._sleep(pause)

        call = _Call(
            "POST",
            "/v2/serverless",
            "/v2/serverless",
            f"creating endpoint '{name}'",
            name,
            body=dict(body),
            landed=landed,
        )
        return _object(self._run(call), call)

    def update_endpoint(
        self, endpoint_id: str, changes: Mapping[str, Any], *, name: str | None = None
    ) -> JSONObject:
        """PATCH the given fields (only those) and return the whole updated endpoint."""
        path = f"/v2/serverless/{quote(endpoint_id, safe='')}"
        action = f"updating {_label(endpoint_id, name)}"
        call = _Call("PATCH", "/v2/serverless/{id}", path, action, name, body=dict(changes))
        return _object(self._run(call), call)

    def delete_endpoint(self, endpoint_id: str, *, name: str | None = None) -> None:
        """Delete an endpoint (204). A 404 on a retry means an earlier attempt deleted it."""
        path = f"/v2/serverless/{quote(endpoint_id, safe='')}"
        action = f"deleting {_label(endpoint_id, name)}"
        self._run(_Call("DELETE", "/v2/serverless/{id}", path, action, name, gone_ok=True))

    def list_workers(self, endpoint_id: str, *, name: str | None = None) -> JSONObject:
        """`{"workers": [...], "summary": {...}, "endpointVersion": n}` for one endpoint."""
        path = f"/v2/serverless/{quote(endpoint_id, safe='')}/workers"
        action = f"listing the workers of {_label(endpoint_id, name)}"
        call = _Call("GET", "/v2/serverless/{id}/workers", path, action, name)
        return _object(self._run(call), call)

    def list_releases(self, endpoint_id: str, *, name: str | None = None) -> JSONObject:
        """`{"endpointVersion": n, "rollout": {...}, "releases": [...]}`, newest release first."""
        path = f"/v2/serverless/{quote(endpoint_id, safe='')}/releases"
        action = f"listing the releases of {_label(endpoint_id, name)}"
        call = _Call("GET", "/v2/serverless/{id}/releases", path, action, name)
        return _object(self._run(call), call)

    def open_worker_logs(
        self,
        endpoint_id: str,
        worker_id: str,
        *,
        params: Mapping[str, str | int] | None = None,
        last_event_id: str | None = None,
        name: str | None = None,
    ) -> requests.Response:
        """Open a worker's log stream (server-sent events; see flashctl/logs/sse.py) and return
        the response to read as it arrives; the caller closes it. `params`: `tail`, `since`,
        `source`; `last_event_id` resumes after that event. Sent once: a stream that fails is
        reopened by its reader, from where it was."""
        template = "/v2/serverless/{id}/workers/{workerId}/logs"
        path = (
            f"/v2/serverless/{quote(endpoint_id, safe='')}/workers/{quote(worker_id, safe='')}/logs"
        )
        call = _Call(
            "GET",
            template,
            path,
            f"reading the log of worker {worker_id} of {_label(endpoint_id, name)}",
            name,
        )
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        with self._counts_lock:
            self.request_counts[("GET", template)] += 1
        try:
            response = self._session.get(
                self.base_url + path,
                params=dict(params or {}),
                headers=headers,
                auth=self._auth,
                timeout=(self.timeouts.connect, self.timeouts.read),
                stream=True,
            )
        except _TRANSPORT_ERRORS as err:
            LOGGER.debug("GET %s%s -> %s", self.base_url, path, type(err).__name__)
            raise self._unreachable(call, err, 1) from None
        LOGGER.debug(
            "GET %s -> %d (stream); Last-Event-ID %s",
            response.url,
            response.status_code,
            last_event_id or "none",
        )
        if response.status_code >= 400:
            response.content  # noqa: B018  (read the problem body, then let the connection go)
            response.close()
            raise self._api_error(call, response, 1)
        return response

    def catalog(self, kind: CatalogKind) -> list[JSONObject]:
        """The GPU types, CPU flavors or data centers RunPod offers."""
        if kind not in _CATALOG_KEYS:
            raise ValueError(f"unknown catalog {kind!r}; expected one of {sorted(_CATALOG_KEYS)}")
        path = f"/v2/catalog/{kind}"
        call = _Call("GET", path, path, f"reading the {kind} catalog")
        return _list_field(self._run(call), _CATALOG_KEYS[kind], call)

    # -- registry credentials ----------------------------------------------------------------

    def list_registries(self) -> list[JSONObject]:
        """Every container-registry credential on the account: `[{"id", "name"}]` (RunPod never
        returns the username or password)."""
        call = _Call("GET", "/v2/registries", "/v2/registries", "listing registry credentials")
        return _list_field(self._run(call), "registries", call)

    def create_registry(self, name: str, username: str, password: str) -> JSONObject:
        """Create a registry credential and return `{"id", "name"}` (201).

        Like an endpoint create, it is never sent twice blindly: after a lost response or a 5xx
        the list is checked for a credential of this name first. The username and password go
        only into the request body: never into a log line or a message (a server's error text
        is scrubbed of the password).
        """

        def landed(deadline: float, sent_at: float) -> JSONObject | None:
            del sent_at  # credentials are listed at once (RunPod's lag is an endpoints' matter)
            call = _Call("GET", "/v2/registries", "/v2/registries", "listing registry credentials")
            listed = _list_field(self._run(call, deadline), "registries", call)
            named = [r for r in listed if r.get("name") == name]
            if named:
                LOGGER.info("registry credential %r was created; its response was lost", name)
            return named[0] if named else None

        call = _Call(
            "POST",
            "/v2/registries",
            "/v2/registries",
            f"creating registry credential '{name}'",
            body={"name": name, "username": username, "password": password},
            landed=landed,
            secrets=(password,),
        )
        return _object(self._run(call), call)

    # -- billing -------------------------------------------------------------------------------

    def serverless_billing(
        self, *, bucket_size: str = "day", last: int = 7, serverless_id: str | None = None
    ) -> JSONObject:
        """`ListServerlessBillingResponse` for the last `last` buckets of `bucket_size` (`hour`,
        `day`, ...): `{"records": [{serverlessId, startTime, endTime, totalAmount, ...}],
        "metadata": {...}}`, one record per endpoint per bucket."""
        query = f"bucketSize={quote(bucket_size)}&lastN={int(last)}"
        if serverless_id is not None:
            query += f"&serverlessId={quote(serverless_id, safe='')}"
        call = _Call(
            "GET",
            "/v2/billing/serverless",
            f"/v2/billing/serverless?{query}",
            "reading serverless billing",
        )
        return _object(self._run(call), call)

    # -- one call, with retries --------------------------------------------------------------

    def _run(self, call: _Call, deadline: float | None = None) -> Any:
        if deadline is None:
            deadline = self._clock() + self.retry.budget
        attempt = 0
        while True:
            attempt += 1
            sent_at = self._clock()
            outcome = self._send(call)
            if isinstance(outcome, requests.Response):
                status = outcome.status_code
                if status < 400:
                    return self._json(outcome, call)
                if status == 404 and call.gone_ok and attempt > 1:
                    return None
                if status not in RETRY_STATUSES:
                    raise self._api_error(call, outcome, attempt)
                retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
                # A 429 is refused before any work is done; a 5xx may come after the write.
                may_have_landed = status != 429
            else:
                if isinstance(outcome, requests.exceptions.SSLError):
                    raise self._unreachable(call, outcome, attempt)
                retry_after = None
                may_have_landed = not never_sent(outcome)

            delay = self.retry.backoff(attempt, retry_after, self._rng)
            give_up = attempt >= self.retry.attempts or self._clock() + delay > deadline
            if not give_up:
                LOGGER.info(
                    "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
                    call.method,
                    call.template,
                    _outcome_text(outcome, self.timeouts),
                    delay,
                    attempt + 1,
                    self.retry.attempts,
                )
                self._sleep(delay)
            if call.landed is not None and may_have_landed:
                # Never resend a write that may have landed without looking first.
                try:
                    found = call.landed(deadline, sent_at)
                except NotListedYet as err:
                    raise self._failure(call, outcome, attempt, str(err)) from None
                except DeployError as err:
                    note = "It may have been carried out; `flashctl plan` shows what exists now."
                    raise self._failure(call, outcome, attempt, note) from err
                if found is not None:
                    return found
            if give_up:
                note = ""
                if retry_after is not None and self._clock() + retry_after > deadline:
                    note = (
                        f"RunPod asked to retry after {retry_after:g} s, beyond the "
                        f"{self.retry.budget:g} s this call may take; try again later."
                    )
                raise self._failure(call, outcome, attempt, note)

    def _send(self, call: _Call) -> requests.Response | requests.RequestException:
        url = self.base_url + call.path
        with self._counts_lock:
            self.request_counts[(call.method, call.template)] += 1
        started = time.perf_counter()
        try:
            response = self._session.request(
                call.method,
                url,
                json=call.body,
                auth=self._auth,
                timeout=(self.timeouts.connect, self.timeouts.read),
            )
        except _TRANSPORT_ERRORS as err:
            elapsed = (time.perf_counter() - started) * 1000
            LOGGER.debug("%s %s -> %s after %.1f ms", call.method, url, type(err).__name__, elapsed)
            return err
        elapsed = (time.perf_counter() - started) * 1000
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug(
                "%s %s -> %d in %.1f ms; sent headers %s",
                call.method,
                url,
                response.status_code,
                elapsed,
                self._auth.redacted_headers(response.request.headers),
            )
        return response

    def _json(self, response: requests.Response, call: _Call) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise DeployError(
                f"RunPod answered {call.action} ({response.status_code}) with a body that is "
                "not JSON."
            ) from None

    def _failure(
        self,
        call: _Call,
        outcome: requests.Response | requests.RequestException,
        attempts: int,
        note: str = "",
    ) -> DeployError:
        if isinstance(outcome, requests.Response):
            return self._api_error(call, outcome, attempts, note)
        return self._unreachable(call, outcome, attempts, note)

    def _unreachable(
        self, call: _Call, err: requests.RequestException, attempts: int, note: str = ""
    ) -> RunPodConnectionError:
        return RunPodConnectionError(
            display_url(self.base_url + call.path),
            transport_reason(err, self.timeouts.connect, self.timeouts.read),
            action=call.action,
            attempts=attempts,
            note=note,
        )

    def _api_error(
        self, call: _Call, response: requests.Response, attempts: int, note: str = ""
    ) -> RunPodAPIError:
        title, detail, errors = read_problem(response)

        def scrub(text: str) -> str:
            for secret in call.secrets:
                text = text.replace(secret, REDACTED) if secret else text
            return self._auth.scrub(text)

        return RunPodAPIError(
            call.method,
            call.path,
            response.status_code,
            action=call.action,
            endpoint_name=call.name,
            title=scrub(title),
            detail=scrub(detail),
            errors=[scrub(error) for error in errors],
            key_source=self.credentials.source,
            attempts=attempts,
            note=note,
        )


@dataclass(frozen=True)
class _Call:
    """One logical API call: what is sent, how it is described, and how it may be retried."""

    method: str
    template: str  # the path with `{id}` for counting and logs
    path: str
    action: str  # "creating endpoint 'api'", for messages
    name: str | None = None
    body: JSONObject | None = None
    # A write's "did it land?" check, given the call's deadline and when the write was sent.
    landed: Callable[[float, float], JSONObject | None] | None = None
    gone_ok: bool = False  # a DELETE's 404 after a lost response means done
    secrets: tuple[str, ...] = ()  # values in the body never to show (a registry password)

    def __repr__(self) -> str:  # the body may hold secrets
        return f"_Call({self.method} {self.path})"


class NotListedYet(DeployError):
    """A create whose answer was lost is not in the list, but may still appear there."""


def _object(data: Any, call: _Call) -> JSONObject:
    if not isinstance(data, dict):
        raise DeployError(f"RunPod's answer to {call.action} is not a JSON object.")
    return data


def _list_field(data: Any, key: str, call: _Call) -> list[JSONObject]:
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise DeployError(f"RunPod's answer to {call.action} has no `{key}` list.")
    return list(data[key])


def _label(endpoint_id: str, name: str | None) -> str:
    return f"endpoint '{name}' ({endpoint_id})" if name else f"endpoint {endpoint_id}"


def _outcome_text(
    outcome: requests.Response | requests.RequestException, timeouts: Timeouts
) -> str:
    if isinstance(outcome, requests.Response):
        return f"HTTP {outcome.status_code}"
    return transport_reason(outcome, timeouts.connect, timeouts.read)
