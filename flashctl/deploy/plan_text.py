"""A plan as text for people: one block per endpoint, field-level `before -> after`.

Plan for project seed against https://api.runpod.io

  + seed-gpu: create
      image: "ghcr.io/acme/seed-gpu:dev"
      ...
  ~ seed-cpu (x7k2m9q4p1v8z3): update in place
      workers.max: 5 -> 10
  = seed-users (p1v8z3x7k2m9q4): no change

  + registry credential acme-ghcr: create (username from $GHCR_USER, password from
    $GHCR_TOKEN), for seed-gpu

1 to create, 1 to update in place, 1 unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from flashctl.deploy.diff import show
from flashctl.deploy.plan import (
    CREATE,
    DELETE,
    NO_CHANGE,
    REPLACE,
    UPDATE_IN_PLACE,
    UPDATE_RESTART,
    EndpointPlan,
    Plan,
)

_MARKS = {
    CREATE: ("+", "green"),
    UPDATE_IN_PLACE: ("~", "yellow"),
    UPDATE_RESTART: ("~", "yellow"),
    REPLACE: ("-/+", "red"),
    DELETE: ("-", "red"),
    NO_CHANGE: ("=", None),
}
_PHRASES = {
    CREATE: "to create",
    UPDATE_IN_PLACE: "to update in place",
    UPDATE_RESTART: "to update with a workers restart",
    REPLACE: "to replace",
    DELETE: "to delete",
    NO_CHANGE: "unchanged",
}


def plan_text(plan: Plan, color: bool = False) -> str:
    paint: Callable[[str, str | None], str] = (
        (lambda text, fg: click.style(text, fg=fg)) if color else (lambda text, fg: text)
    )
    where = f" ({plan.environment})" if plan.environment else ""
    lines = [f"Plan for project {plan.project}{where} against {plan.api_url}", ""]
    for endpoint in plan.endpoints:
        lines += _endpoint_lines(endpoint, paint)
    creates = [r for r in plan.registries if r.id is None]
    if creates:
        lines.append("")
    for registry in creates:  # the variables' names only: values are read by apply
        lines.append(
            paint(f"  + registry credential {registry.name}: create", "green")
            + f" (username from ${registry.username_env}, password from"
            f" ${registry.password_env}), for {', '.join(registry.endpoints)}"
        )
    lines.append("")
    counts = plan.summary()
    parts = [f"{counts[action]} {phrase}" for action, phrase in _PHRASES.items() if counts[action]]
    lines.append((", ".join(parts) or "Nothing in the file") + ".")
    if not plan.pending:
        lines.append("No changes: RunPod matches the file.")
    for name in plan.kept:
        lines.append(f"Kept: {name} left the file; `apply --prune` deletes it.")
    lines += [f"Warning: {warning}" for warning in plan.warnings]
    return "\n".join(lines) + "\n"


def _endpoint_lines(endpoint: EndpointPlan, paint: Callable[[str, str | None], str]) -> list[str]:
    mark, fg = _MARKS[endpoint.action]
    ident = f" ({endpoint.endpoint_id})" if endpoint.endpoint_id else ""
    note = f" [{endpoint.note}]" if endpoint.note else ""
    lines = [paint(f"  {mark} {endpoint.name}{ident}: {endpoint.action}", fg) + note]
    if endpoint.action == CREATE:
        lines += [
            f"      {change.path}: {show(change.after)}"
            for change in endpoint.changes
            if change.path != "name"  # on the line above
        ]
    elif endpoint.action != DELETE:
        lines += [f"      {change}" for change in endpoint.changes]
    return lines
