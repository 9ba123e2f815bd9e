"""RunPod's per-key rate limits in the emulator (quota windows, 429 with Retry-After, the
RateLimit headers) and the client's retry budget against them, over real HTTP."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
import requests

from flashctl.emulator.rate_limit import Window, parse_windows
from flashctl.emulator.server import BackgroundEmulator, create_emulator
from flashctl.errors import UsageError
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.errors import RunPodAPIError
from flashctl.runpod.retry import RetryPolicy
from tests.runpod.conftest import CANARY_KEY

# An hour-long window: its reset is (almost surely) far away while a test runs.
ONE_AN_HOUR = (Window("hour", 1, 3600),)


def _get(emulator: BackgroundEmulator, key: str) -> requests.Response:
    return requests.get(
        f"{emulator.url}/v2/serverless", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )


def test_a_key_over_its_quota_gets_429_with_retry_after_and_other_keys_do_not(
    start_emulator: Callable[..., BackgroundEmulator],
) -> None:
    emulator = start_emulator(api_key=None, rate_limits=(Window("hour", 2, 3600),))

    first, second, third = (_get(emulator, "key-a") for _ in range(3))
    other = _get(emulator, "key-b")

    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert first.headers["RateLimit-Policy"] == '"hour";q=2;w=3600'
    assert first.headers["RateLimit"].startswith('"hour";r=1;t=')
    assert second.headers["RateLimit"].startswith('"hour";r=0;t=')
    assert third.json()["detail"] == "rate limit exceeded for the hour window"
    retry_after = int(third.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    assert third.headers["RateLimit"] == f'"hour";r=0;t={retry_after}'
    assert other.status_code == 200  # each key has its own quota
    assert other.headers["RateLimit"].startswith('"hour";r=1;t=')


def test_any_exhausted_window_refuses_even_with_room_in_the_others(
    start_emulator: Callable[..., BackgroundEmulator],
) -> None:
    windows = (Window("minute", 5, 60), Window("day", 1, 86400))
    emulator = start_emulator(api_key=None, rate_limits=windows)

    assert _get(emulator, "k").status_code == 200
    refused = _get(emulator, "k")

    assert refused.status_code == 429
    assert refused.json()["detail"] == "rate limit exceeded for the day window"
    assert refused.headers["RateLimit"].startswith('"minute";r=4;t=')  # a refusal is not counted


def test_rate_limits_are_off_unless_asked(emulator: BackgroundEmulator) -> None:
    assert all(_get(emulator, CANARY_KEY).status_code == 200 for _ in range(30))


def test_the_client_gives_up_at_once_on_a_retry_after_beyond_its_budget(
    start_emulator: Callable[..., BackgroundEmulator],
    make_client: Callable[..., RunPodClient],
) -> None:
    emulator = start_emulator(rate_limits=ONE_AN_HOUR)
    slept: list[float] = []
    client = make_client(emulator.url, retry=RetryPolicy(budget=5.0), sleep=slept.append)
    client.list_endpoints()

    with pytest.raises(RunPodAPIError) as raised:
        client.list_endpoints()

    message = str(raised.value)
    assert raised.value.status == 429
    assert "rate limit exceeded for the hour window" in message
    assert "RunPod asked to retry after" in message and "beyond the 5 s" in message
    assert "try again later" in message
    assert slept == []  # it never slept towards a retry it could not make
    assert client.request_counts[("GET", "/v2/serverless")] == 2


def test_the_client_honours_a_short_retry_after(
    start_emulator: Callable[..., BackgroundEmulator],
    make_client: Callable[..., RunPodClient],
) -> None:
    emulator = start_emulator(rate_limits=(Window("twosec", 1, 2),))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    client = make_client(emulator.url, sleep=sleep)  # FAST_RETRY: jitter of 0.05 s at most

    for _ in range(3):
        client.list_endpoints()  # each succeeds, after waiting for the window when refused

    logged = emulator.emulator.log.snapshot()["requests"]
    refused = [entry for entry in logged if entry["status"] == 429]
    assert refused, "three calls within a 1-per-2 s quota must meet a 429"
    assert len(slept) == len(refused)
    # Every wait is at least the server's Retry-After (whole seconds, 1 or 2 here), never the
    # client's own short backoff; and the call after the wait was let through.
    assert all(seconds >= 1.0 for seconds in slept)
    statuses = [entry["status"] for entry in logged]
    assert all(a != 429 or b == 200 for a, b in itertools.pairwise(statuses))


def test_a_command_over_the_limit_exits_1_with_what_to_do(
    run_cli, start_emulator: Callable[..., BackgroundEmulator], tmp_path
) -> None:
    emulator = start_emulator(rate_limits=ONE_AN_HOUR)
    (tmp_path / "h.py").write_text("def hello():\n    return {}\n")
    flash = tmp_path / "flash.yaml"
    flash.write_text(
        "version: 1\nproject: shop\nendpoints:\n  api:\n    image: acme/app:1\n"
        "    compute:\n      cpu: [{flavor: cpu5c, vcpus: 2}]\n"
        '    routes:\n      - {method: GET, path: /hello, handler: "h:hello"}\n'
    )
    env = {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url}
    assert _get(emulator, CANARY_KEY).status_code == 200  # the hour's one request

    result = run_cli("status", "-f", str(flash), env=env)

    assert result.exit_code == 1, result
    assert "(429)" in result.stderr and "rate limit exceeded for the hour window" in result.stderr
    assert "RunPod asked to retry after" in result.stderr
    assert "Traceback" not in result.stderr


def test_rate_limit_specs_parse_or_are_refused() -> None:
    assert parse_windows("runpod")[0] == Window("minute", 60, 60)
    assert create_emulator(rate_limits="minute=2/60").limiter is not None
    with pytest.raises(UsageError, match="is not NAME=QUOTA/SECONDS"):
        create_emulator(rate_limits="minute=lots")
