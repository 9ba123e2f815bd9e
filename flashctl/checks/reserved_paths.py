"""`reserved-path`: `/ping` (RunPod's health check), `runtime.health_path` when set, `/metrics`
(Prometheus metrics, whether `runtime.metrics` is on or not, so turning it on never takes a route
away) and `/execute` belong to the service, for any method and with trailing slashes too; `/docs`
and `/openapi.json` do when docs are on (and only warn otherwise, since `flashctl dev` always
serves them). `runtime.health_path` itself may not be `/execute` or a docs path."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem, Severity

ID = "reserved-path"
ALWAYS = {
    "/ping": "RunPod's load balancer polls it for health",
    "/metrics": "the service serves its Prometheus metrics there with runtime.metrics",
    "/execute": "it is never served",
}
DOCS = ("/docs", "/openapi.json")


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        health = endpoint.runtime.health_path
        if health is not None and health in (*ALWAYS, *DOCS) and health != "/ping":
            yield document.problem(
                ("endpoints", endpoint.key, "runtime", "health_path"),
                ID,
                f"health_path '{health}' is a path the service keeps for itself: choose another",
            )
        for route in endpoint.routes:
            at = (*route.at, "path")
            normalized = "/" + route.path.strip("/")
            if normalized == endpoint.runtime.health_path:
                yield document.problem(
                    at,
                    ID,
                    f"'{route.path}' is runtime.health_path (RunPod's load balancer polls it for"
                    " health): choose another path",
                )
            elif normalized in ALWAYS:
                yield document.problem(
                    at,
                    ID,
                    f"'{route.path}' is reserved ({ALWAYS[normalized]}): choose another path",
                )
            elif normalized in DOCS:
                severity: Severity = "error" if endpoint.runtime.docs else "warning"
                yield document.problem(
                    at,
                    ID,
                    f"'{route.path}' is where the service serves its API docs"
                    " (always under `flashctl dev`): choose another path",
                    severity=severity,
                )
