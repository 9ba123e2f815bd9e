"""A stub Kubernetes API server on 127.0.0.1: just enough discovery for `kubectl apply
--dry-run=client` to map every kind flashctl renders, and 404 for every object the test did not
give it (by default nothing exists yet, so kubectl reports each object as "created (dry run)").

Objects the test gives (`stub_apiserver(objects)`, e.g. `deployment(...)`) are served by name and
in lists (with kubectl's `fieldSelector=metadata.name=...`); a watch sends no events and stays open
until the stub stops (at most WATCH_SECONDS), which is what `kubectl rollout status` sees of a
Deployment that never changes. For `kubectl diff` it answers a dry-run create with the object as
sent and a dry-run patch of a served object with that object unchanged (a cluster that already
matches the file). A DELETE of a served object removes it (what `kubectl delete` does); it
accepts no other real writes. Every request is recorded for the test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

WATCH_SECONDS = 30  # a watch outlives any test's kubectl --timeout, and no test waits on it
Manifest = dict[str, Any]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
# group/version -> [(plural, kind, namespaced)]
RESOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("services", "Service", True),
        ("secrets", "Secret", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("deployments", "Deployment", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
}


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for gv in RESOURCES:
            if "/" in gv:
                group, version = gv.split("/")
                entry = {"groupVersion": gv, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    gv = path.removeprefix("/api/") if path.startswith("/api/") else path.removeprefix("/apis/")
    if gv in RESOURCES:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": VERBS,
                }
                for plural, kind, namespaced in RESOURCES[gv]
            ],
        }
    return None


@dataclass
class StubApiServer:
    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)

    def kubeconfig(self, folder: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
            "users": [{"name": "stub", "user": {}}],
            "contexts": [
                {
                    "name": "stub",
                    "context": {"cluster": "stub", "user": "stub", "namespace": namespace},
                }
            ],
            "current-context": "stub",
        }
        path = folder / "kubeconfig"
        path.write_text(json.dumps(config))  # JSON is YAML
        return path


def deployment(
    name: str,
    namespace: str = "default",
    rolled_out: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Manifest:
    """A live Deployment of one replica: fully rolled out (what `kubectl rollout status` accepts),
    or with its new pod never available (so it waits until its --timeout); with `labels`."""
    available = 1 if rolled_out else 0
    metadata = {"name": name, "namespace": namespace, "generation": 2, "resourceVersion": "7"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**metadata, "labels": dict(labels or {})},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 2,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable" if rolled_out else "ReplicaSetUpdated",
                }
            ],
        },
    }


def object_path(manifest: Manifest) -> str:
    """Where the API serves `manifest` (a namespaced object of a known kind)."""
    gv, kind = manifest["apiVersion"], manifest["kind"]
    plural = next(p for p, k, _ in RESOURCES[gv] if k == kind)
    prefix = "/api/" if gv == "v1" else "/apis/"
    metadata = manifest["metadata"]
    return f"{prefix}{gv}/namespaces/{metadata['namespace']}/{plural}/{metadata['name']}"


@contextmanager
def stub_apiserver(objects: Iterable[Manifest] = ()) -> Iterator[StubApiServer]:
    stub = StubApiServer(url="")
    served: dict[str, Manifest] = {object_path(o): o for o in objects}
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            stub.requests.append(("GET", path))
            if query.get("watch") in (["true"], ["1"]):
                self._hold_watch()
                return
            body = _discovery(path) or served.get(path) or _listing(served, path, query)
            if body is None:
                self._send(404, _not_found(path))
            else:
                self._send(200, body)

        def _hold_watch(self) -> None:
            """An event stream with no events: headers now, then silence until the stub stops."""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.flush()
            stopping.wait(WATCH_SECONDS)

        def _refuse(self) -> None:
            stub.requests.append((self.command, self.path))
            self._send(405, {"kind": "Status", "status": "Failure", "code": 405})

        def do_POST(self) -> None:
            """A dry-run create (what `kubectl diff` asks for an object that does not exist
            yet) answers with the object as sent; any real write is refused."""
            if "dryRun=All" not in (urlsplit(self.path).query or ""):
                return self._refuse()
            stub.requests.append(("POST", self.path))
            length = int(self.headers.get("Content-Length") or 0)
            self._send(201, json.loads(self.rfile.read(length) or b"{}"))

        def do_PATCH(self) -> None:
            """A dry-run patch (what `kubectl diff` asks for an object that exists) answers with
            the object as served, as if the patch changed nothing; a real write is refused."""
            url = urlsplit(self.path)
            if "dryRun=All" not in (url.query or "") or url.path not in served:
                return self._refuse()
            stub.requests.append(("PATCH", self.path))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200, served[url.path])

        def do_DELETE(self) -> None:
            """Deleting a served object removes it; anything else is refused."""
            path = urlsplit(self.path).path
            if path not in served:
                return self._refuse()
            stub.requests.append(("DELETE", path))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200, served.pop(path))

        do_PUT = _refuse

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stopping.set()  # ends open watches, so server_close does not wait for them
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _not_found(path: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"{path} not found",
        "reason": "NotFound",
        "code": 404,
    }


def _listing(
    served: Mapping[str, Manifest], path: str, query: dict[str, list[str]]
) -> Manifest | None:
    """A List of the served objects in the collection at `path`, filtered by
    `fieldSelector=metadata.name=NAME` as `kubectl rollout status` asks; None when `path` holds
    no served object."""
    items = [o for p, o in served.items() if p.rsplit("/", 1)[0] == path]
    if not items:
        return None
    selector = query.get("fieldSelector", [""])[0]
    if selector.startswith("metadata.name="):
        name = selector.removeprefix("metadata.name=")
        items = [o for o in items if o["metadata"]["name"] == name]
    kind = items[0]["kind"]
    return {
        "apiVersion": items[0]["apiVersion"],
        "kind": f"{kind}List",
        "metadata": {"resourceVersion": "7"},
        "items": items,
    }
