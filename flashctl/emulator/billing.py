"""What the emulator's `GET /v2/billing/serverless` returns: spend computed from its own workers.

Each endpoint is billed for the time its workers ran (`EmulatorState.usage`: workers that went
away and those running now), at the catalog's serverless price of one worker: the GPU type it
was placed on times `gpu.count`, or `vcpuCount` times the flavor's per-vCPU price. Disk and the
platform fee are not modelled (0). Records are per endpoint per bucket, for every bucket of the
window the endpoint existed in, as RunPod emits them.

Query parameters, as the OpenAPI document defines them: `bucketSize` (hour, day, week, month,
year; default day), `lastN` (the last N buckets, the current one included) or `startTime` /
`endTime` (RFC 3339, snapped to bucket boundaries; default the last 30 days), and
`serverlessId`. A bad value, or `lastN` together with a time, is a `ValueError` (the app's 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from flashctl.emulator import catalog
from flashctl.emulator.state import _placed_gpu_type  # where a worker runs decides its price

JSONObject = dict[str, Any]
BUCKET_SIZES = ("hour", "day", "week", "month", "year")
DEFAULT_DAYS = 30


def worker_price_per_hour(endpoint: Mapping[str, Any]) -> float:
    """USD per hour of one worker of `endpoint` (a stored Endpoint document), from the catalog."""
    gpu = endpoint.get("gpu")
    if gpu:
        placed = _placed_gpu_type(gpu)
        prices = {g["id"]: g["price"]["serverless"] for g in catalog.gpus()["gpus"]}
        return float(prices[placed]) * int(gpu.get("count", 1)) if placed else 0.0
    per_vcpu = {c["id"]: c["price"]["serverlessPerVcpu"] for c in catalog.cpus()["cpus"]}
    configs = endpoint.get("cpu") or []
    if not configs:
        return 0.0
    first = configs[0]
    return float(per_vcpu.get(first["id"], 0)) * int(first["vcpuCount"])


def parse_query(params: Mapping[str, str], now: datetime) -> tuple[datetime, datetime, str]:
    """The resolved window `[start, end)` and bucket size of a billing query."""
    size = params.get("bucketSize", "day")
    if size not in BUCKET_SIZES:
        raise ValueError(f"bucketSize must be one of {', '.join(BUCKET_SIZES)}")
    last = params.get("lastN")
    if last is not None:
        if "startTime" in params or "endTime" in params:
            raise ValueError("lastN cannot be combined with startTime or endTime")
        if not last.isdigit() or int(last) < 1:
            raise ValueError("lastN must be an integer of at least 1")
        end = _next(_floor(now, size), size)
        start = end
        for _ in range(int(last)):
            start = _previous(start, size)
        return start, end, size
    start = _floor(_time(params, "startTime") or now - timedelta(days=DEFAULT_DAYS), size)
    end_at = _time(params, "endTime") or now
    end = end_at if _floor(end_at, size) == end_at else _next(_floor(end_at, size), size)
    if end <= start:
        raise ValueError("endTime must be after startTime")
    return start, end, size


def serverless_billing(
    now: float,
    usage: list[tuple[JSONObject, list[tuple[float, float]]]],
    params: Mapping[str, str],
) -> JSONObject:
    """`ListServerlessBillingResponse` for `usage` (see `EmulatorState.usage`)."""
    start, end, size = parse_query(params, datetime.fromtimestamp(now, timezone.utc))
    wanted = params.get("serverlessId")
    buckets = []
    at = start
    while at < end:
        buckets.append((at, _next(at, size)))
        at = buckets[-1][1]
    records = []
    for endpoint, spans in usage:
        if wanted is not None and endpoint["id"] != wanted:
            continue
        created = _parse_time(endpoint["createdAt"])
        rate = worker_price_per_hour(endpoint)
        compute = "gpuAmount" if endpoint.get("gpu") else "cpuAmount"
        for low, high in buckets:
            if created >= high:
                continue
            seconds = sum(
                max(0.0, min(stop, high.timestamp()) - max(begin, low.timestamp()))
                for begin, stop in spans
            )
            amount = round(seconds / 3600 * rate, 6)
            records.append(
                {
                    "startTime": _iso(low),
                    "endTime": _iso(high),
                    "serverlessId": endpoint["id"],
                    **_amounts(amount, compute),
                }
            )
    totals = _amounts(0.0, "gpuAmount")
    for record in records:
        for key in totals:
            totals[key] = round(totals[key] + record[key], 6)
    return {
        "records": records,
        "metadata": {
            "query": {
                "startTime": _iso(start),
                "endTime": _iso(end),
                "bucketSize": size,
                "serverlessId": wanted,
            },
            "recordCount": len(records),
            "uniqueServerlessCount": len({r["serverlessId"] for r in records}),
            "totals": totals,
        },
    }


def _amounts(compute_amount: float, compute: str) -> dict[str, float]:
    amounts = {"totalAmount": compute_amount, "gpuAmount": 0.0, "cpuAmount": 0.0}
    amounts[compute] = compute_amount
    return {**amounts, "diskAmount": 0.0, "feeAmount": 0.0}


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return _parse_time(value)
    except ValueError:
        raise ValueError(f"{name} must be an RFC 3339 date-time") from None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(
        value.removesuffix("Z") + ("+00:00" if value.endswith("Z") else "")
    )
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed.astimezone(timezone.utc)


def _floor(at: datetime, size: str) -> datetime:
    at = at.astimezone(timezone.utc)
    if size == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if size == "day":
        return day
    if size == "week":  # weeks start on Monday (ISO 8601)
        return day - timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(at: datetime, size: str) -> datetime:
    """The start of the bucket after the one starting at `at`."""
    if size in ("hour", "day", "week"):
        return (
            at
            + {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[
                size
            ]
        )
    if size == "month":
        return at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1)
    return at.replace(year=at.year + 1)


def _previous(at: datetime, size: str) -> datetime:
    """The start of the bucket before the one starting at `at`."""
    if size in ("hour", "day", "week"):
        return (
            at
            - {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[
                size
            ]
        )
    if size == "month":
        return at.replace(year=at.year - (at.month == 1), month=(at.month - 2) % 12 + 1)
    return at.replace(year=at.year - 1)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
