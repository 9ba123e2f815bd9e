"""The health state behind ``GET /ping``, as RunPod's load balancer and Kubernetes read it.

The same answer is served at ``HEALTH_CHECK_PATH`` when the environment sets it (RunPod's setting
for where its load balancer polls; flashctl sets it from ``runtime.health_path``).

=========  ===========================  ================
state      ``/ping``                    ``/ping?ready=1``
=========  ===========================  ================
starting   204 (RunPod: initializing)   503
ready      200 ``{"status":"healthy"}`` 200
failed     503                          503
draining   503                          503
=========  ===========================  ================
"""

from __future__ import annotations

from typing import Literal

State = Literal["starting", "ready", "failed", "draining"]

_DETAIL: dict[State, str] = {
    "starting": "Service is starting",
    "failed": "Service failed to start",
    "draining": "Service is shutting down",
}


def health_path(value: str | None) -> str:
    """Where the load balancer polls: ``HEALTH_CHECK_PATH`` with one leading slash, else /ping.

    >>> health_path("healthz/"), health_path(None), health_path(" ")
    ('/healthz', '/ping', '/ping')
    """
    bare = "/" + (value or "").strip().strip("/")
    return "/ping" if bare == "/" else bare


class Health:
    def __init__(self, has_startup_hook: bool) -> None:
        # Without a hook there is nothing to wait for, so the service is ready at once.
        self.state: State = "starting" if has_startup_hook else "ready"

    def answer(self, ready_probe: bool) -> tuple[int, str | None]:
        """``(status, error detail)``; the detail is ``None`` for 200 and 204."""
        if self.state == "ready":
            return 200, None
        if self.state == "starting" and not ready_probe:
            return 204, None
        return 503, _DETAIL[self.state]

    def refusal(self) -> str | None:
        """Why routes cannot be served yet (starting, failed), else ``None``."""
        if self.state in ("starting", "failed"):
            return _DETAIL[self.state]
        return None

    def drain(self) -> bool:
        """Enter draining; ``False`` if already draining (signals may repeat)."""
        if self.state == "draining":
            return False
        self.state = "draining"
        return True
