"""Which requests the emulator fails on purpose, and how.

Faults hit `/v2/*` requests only, after authentication:

- `429`: rate limited, with `Retry-After` and `RateLimit` headers; nothing is done.
- `500`, `503`: a problem+json error; nothing is done.
- `drop`: the connection closes mid-response; nothing is done.
- `drop_after`: the request is carried out, then the connection closes mid-response, so the
  client cannot know that its write landed (the case a create must not duplicate).

`fail_rate` picks faults at random from a generator seeded with `seed`, drawn once per request,
so one sequence of requests meets the same faults on every run. Tests can also script faults
for the next matching requests (`POST /_emulator/faults`), which take precedence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "503", "drop", "drop_after")


@dataclass(frozen=True)
class ScriptedFault:
    kind: str
    match: str | None = None  # "POST /v2/serverless" (method and path template), or any request


class FaultInjector:
    def __init__(self, fail_rate: float = 0.0, seed: int | None = None) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail rate {fail_rate} is not between 0 and 1")
        self.fail_rate = fail_rate
        self._rng = random.Random(seed)
        self._script: list[ScriptedFault] = []

    def script(self, faults: list[ScriptedFault]) -> None:
        """Queue faults for the next requests that match them, in order."""
        for fault in faults:
            if fault.kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {fault.kind!r}; expected one of {FAULT_KINDS}")
        self._script.extend(faults)

    def clear(self) -> None:
        self._script.clear()

    def next_fault(self, route: str) -> str | None:
        """The fault for this request (`route` is "METHOD /path/template"), or None."""
        for index, fault in enumerate(self._script):
            if fault.match is None or fault.match == route:
                del self._script[index]
                return fault.kind
        if self.fail_rate <= 0.0:
            return None
        # Two draws per request whatever the outcome, so the sequence does not depend on it.
        roll, kind = self._rng.random(), self._rng.choice(FAULT_KINDS)
        return kind if roll < self.fail_rate else None
