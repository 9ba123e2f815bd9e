"""Field-level differences between two normalized endpoint shapes, and what each one costs.

    >>> [str(c) for c in field_changes({"workers": {"min": 0, "max": 3}},
    ...                                {"workers": {"min": 1, "max": 3}})]
    ['workers.min: 0 -> 1']

Mappings are compared key by key (`env.LOG_LEVEL`, `gpu.count`); lists and scalars as wholes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# RunPod applies these to the running endpoint (design section 8) ...
IN_PLACE_FIELDS = frozenset({"workers", "scaling", "timeout", "name"})
# ... and rolls out a new release for these: every worker restarts on the new settings.
RESTART_FIELDS = frozenset(
    {
        "image",
        "args",
        "env",
        "ports",
        "registry",
        "gpu",
        "cpu",
        "disk",
        "dataCenterIds",
        "networkVolumes",
        "flashboot",
    }
)
# Not updatable through PATCH: a change means deleting the endpoint and creating it again.
REPLACE_FIELDS = frozenset({"type"})


@dataclass(frozen=True)
class FieldChange:
    path: str  # dotted: "workers.min", "env.LOG_LEVEL", "image"
    before: Any  # None when the field is absent
    after: Any

    @property
    def field(self) -> str:
        """The top-level field, which decides how RunPod applies the change."""
        return self.path.split(".", 1)[0]

    def __str__(self) -> str:
        return f"{self.path}: {show(self.before)} -> {show(self.after)}"


def show(value: Any) -> str:
    """A value as compact JSON, `(none)` for an absent one."""
    return "(none)" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[FieldChange]:
    """Every leaf that differs, in `after`'s field order; `before=None` lists all of `after`."""
    if before is None:
        return [
            FieldChange(path, None, value) for path, value in _leaves(after) if value is not None
        ]
    return list(_diff(before, after, ""))


def _diff(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str
) -> Iterator[FieldChange]:
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        path = prefix + str(key)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            yield from _diff(old, new, path + ".")
        elif old != new:
            yield FieldChange(path, old, new)


def _leaves(value: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            yield from _leaves(item, f"{prefix}{key}.")
        else:
            yield prefix + str(key), item


def changed_fields(changes: list[FieldChange]) -> set[str]:
    return {change.field for change in changes}
