"""What the project's endpoints cost per hour on RunPod serverless, from the catalog's list prices.

A GPU worker costs `price.serverless` of its GPU type times `gpu.count`; a CPU worker
`price.serverlessPerVcpu` of its flavor times its vCPUs (`GET /v2/catalog/gpus|cpus`). An endpoint
that may land on several types (its pools minus `exclude`, or several CPU configurations) has a
range per worker. The idle cost is `workers.min` workers, the worst case `workers.max` workers at
the highest rate; `budget.max_per_hour` is held against the sum of the worst cases. Catalog
entries without a serverless price are not available to serverless and are left out.

    >>> gpus = [{"id": "NVIDIA L4", "pool": "AMPERE_24", "price": {"serverless": 0.69}}]
    >>> rate = worker_rate_gpu(("AMPERE_24",), (), 2, gpus)
    >>> (round(rate[0], 2), round(rate[1], 2))
    (1.38, 1.38)

Negotiated discounts are not reflected (the catalog gives list prices): the figures are a ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from flashctl.errors import DeployError, FlashError
from flashctl.model import Endpoint, Project
from flashctl.runpod.client import RunPodClient

JSONObject = dict[str, Any]
Rate = tuple[float, float]  # lowest, highest USD per hour per worker


class EndpointCost(NamedTuple):
    name: str  # the RunPod name
    rate: Rate | None  # per worker; None when the catalog prices none of its types
    workers_min: int
    workers_max: int

    @property
    def idle(self) -> Rate | None:
        return (
            None
            if self.rate is None
            else (self.rate[0] * self.workers_min, self.rate[1] * self.workers_min)
        )

    @property
    def worst(self) -> float | None:
        return None if self.rate is None else self.rate[1] * self.workers_max


class Costs(NamedTuple):
    endpoints: tuple[EndpointCost, ...]
    budget: float | None  # budget.max_per_hour
    unavailable: str | None = None  # why there are no prices (the catalog could not be read)

    @property
    def worst(self) -> float | None:
        """The sum of the worst cases, or None if any endpoint has no price."""
        worst = [cost.worst for cost in self.endpoints]
        return None if any(w is None for w in worst) else sum(w for w in worst if w is not None)


class OverBudget(DeployError):
    """The worst case of the file is above its budget, or cannot be known."""


def worker_rate_gpu(
    pools: Sequence[str], exclude: Sequence[str], count: int, gpus: Sequence[Mapping[str, Any]]
) -> Rate | None:
    excluded = {t.strip() for t in exclude}
    prices = [
        _price(gpu, "serverless")
        for gpu in gpus
        if gpu.get("pool") in pools and gpu.get("id") not in excluded
    ]
    return _range([p * count for p in prices if p is not None])


def worker_rate_cpu(
    configs: Sequence[tuple[str, int]], cpus: Sequence[Mapping[str, Any]]
) -> Rate | None:
    per_vcpu = {cpu.get("id"): _price(cpu, "serverlessPerVcpu") for cpu in cpus}
    rates = []
    for flavor, vcpus in configs:
        price = per_vcpu.get(flavor)
        if price:  # 0 or absent: not offered to serverless
            rates.append(price * vcpus)
    return _range(rates)


def endpoint_costs(
    project: Project, gpus: Sequence[Mapping[str, Any]], cpus: Sequence[Mapping[str, Any]]
) -> Costs:
    """Every endpoint's cost from the two catalogs (pure)."""
    return Costs(tuple(_cost(e, gpus, cpus) for e in project.endpoints), project.budget_per_hour)


def _cost(
    endpoint: Endpoint, gpus: Sequence[Mapping[str, Any]], cpus: Sequence[Mapping[str, Any]]
) -> EndpointCost:
    gpu = endpoint.compute.gpu
    if gpu is not None:
        rate = worker_rate_gpu(gpu.pools, gpu.exclude, gpu.per_worker, gpus)
    else:
        rate = worker_rate_cpu([(c.flavor, c.vcpus) for c in endpoint.compute.cpu], cpus)
    s = endpoint.scaling
    return EndpointCost(endpoint.runpod_name, rate, s.workers_min, s.workers_max)


def fetch_costs(client: RunPodClient, project: Project) -> Costs:
    """Read the catalogs the project needs (one call each) and price its endpoints.

    Without a budget, a catalog that cannot be read leaves the costs unavailable, not the plan.
    """
    uses_gpu = any(e.compute.gpu is not None for e in project.endpoints)
    uses_cpu = any(e.compute.gpu is None for e in project.endpoints)
    try:
        gpus = client.catalog("gpus") if uses_gpu else []
        cpus = client.catalog("cpus") if uses_cpu else []
    except FlashError as err:
        if project.budget_per_hour is not None:
            raise OverBudget(
                f"Cannot check budget.max_per_hour: {err} Nothing was changed."
            ) from err
        return Costs((), None, unavailable=str(err))
    return endpoint_costs(project, gpus, cpus)


def check_budget(costs: Costs) -> None:
    """Raise OverBudget when the worst case is above the budget or cannot be priced."""
    if costs.budget is None:
        return
    unpriced = [cost.name for cost in costs.endpoints if cost.rate is None]
    if unpriced:
        raise OverBudget(
            f"Cannot check budget.max_per_hour ({usd(costs.budget)}/h): RunPod's catalog has no"
            f" serverless price for {', '.join(unpriced)}. Nothing was changed."
        )
    worst = costs.worst or 0.0
    if worst > costs.budget:
        lines = [
            f"  {cost.name}: {cost.workers_max} x {usd(cost.rate[1])}/h = {usd(worst_one)}/h"
            for cost in costs.endpoints
            if cost.rate is not None and (worst_one := cost.worst) is not None
        ]
        raise OverBudget(
            f"Over budget: at workers.max the endpoints cost {usd(worst)}/h, above"
            f" budget.max_per_hour {usd(costs.budget)}/h:\n" + "\n".join(lines) + "\n"
            "Nothing was changed; lower workers.max, pick cheaper pools or raise the budget."
        )


def cost_text(costs: Costs) -> str:
    """The cost block shown under a plan (after a blank line)."""
    if costs.unavailable is not None:
        return f"\nCost: unavailable ({costs.unavailable})\n"
    lines = ["", "Cost per hour (RunPod serverless list prices, USD):"]
    for cost in costs.endpoints:
        if cost.rate is None or cost.idle is None:
            lines.append(f"  {cost.name}: no serverless price in RunPod's catalog")
            continue
        lines.append(
            f"  {cost.name}: {_usd_range(cost.rate)} per worker;"
            f" idle at workers.min {cost.workers_min}: {_usd_range(cost.idle)};"
            f" worst at workers.max {cost.workers_max}: {usd(cost.worst or 0.0)}"
        )
    worst = costs.worst
    total = f"  worst case, all endpoints: {usd(worst)}" if worst is not None else ""
    if total and costs.budget is not None:
        verdict = "within" if worst is not None and worst <= costs.budget else "OVER"
        total += f" ({verdict} budget.max_per_hour {usd(costs.budget)})"
    if total:
        lines.append(total)
    return "\n".join(lines) + "\n"


def usd(amount: float | None) -> str:
    """`$1.90`; amounts under a dollar keep three decimals (`$0.060`)."""
    if amount is None:
        return "?"
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.3f}"


def _usd_range(rate: Rate) -> str:
    low, high = rate
    return usd(low) if abs(high - low) < 1e-9 else f"{usd(low)}-{usd(high)}"


def _range(values: list[float]) -> Rate | None:
    return (min(values), max(values)) if values else None


def _price(entry: Mapping[str, Any], field: str) -> float | None:
    price = entry.get("price")
    value = price.get(field) if isinstance(price, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)
