"""Render: a project -> `{relative path: bytes}` of every build context, plus manifest.json.

Pure: the caller hands in the runtime package's files and each endpoint's source files (see
`source_copy.py` for reading and writing them). Templates receive prepared views (strings already
formatted); JSON is produced by `json.dumps(sort_keys=True)`. The same input gives byte-identical
output: no timestamps, sorted paths.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from flashctl import __version__
from flashctl.errors import RenderError
from flashctl.files import MARKER_FIELD, MARKER_VALUE
from flashctl.model import Batch, Endpoint, Project
from flashctl.runpod.create_body import create_body

Files = dict[str, bytes]
MANIFEST = "manifest.json"  # its marker field tells the next render the folder is flashctl's

RUNTIME_PACKAGE = "flashctl_runtime"
# Ranges the runtime is tested with (CI installs the newest in range).
RUNTIME_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "common": ("starlette>=0.40,<2", "msgpack>=1.0,<2", "python-multipart>=0.0.18,<1"),
    "hypercorn": ("hypercorn>=0.17,<0.19", "uvloop>=0.19,<1; sys_platform != 'win32'"),
    "uvicorn": (
        "uvicorn>=0.30,<1",
        "uvloop>=0.19,<1; sys_platform != 'win32'",
        "httptools>=0.6,<1",
    ),
}
DRAIN_SECONDS = 30  # runtime grace period on SIGTERM; Kubernetes' grace period must exceed it


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python, Dockerfile and text, never HTML
        finalize=one_line,
    )


def one_line(value: Any) -> Any:
    """Every value a template writes stays on its line: the templates write line-based formats
    (Dockerfile, requirements.txt, Python) with no escaping of their own, so a line break or
    other control character in a value would become an instruction of its own. `validate` keeps
    such values out of flash.yaml (schema patterns); this is the guard behind it."""
    text = str(value)
    if not text.isprintable():
        raise RenderError(f"cannot render {text!r}: a generated file would get a line from it")
    return value


def _template_source(name: str) -> str:
    return resources.files("flashctl.templates").joinpath(name).read_text("utf-8")


def _template(name: str, **view: Any) -> bytes:
    return str(_environment().get_template(name).render(**view)).encode("utf-8")


def serve_command(endpoint: Endpoint) -> list[str]:
    """The container's command; `flashctl dev` and the tests run exactly this too.

    The port comes from `PORT` (set by the Dockerfile and by RunPod from endpoint.json), so the
    command has one source of truth for it; the host defaults to 0.0.0.0.
    """
    runtime = endpoint.runtime
    return [
        "python",
        "-m",
        f"{RUNTIME_PACKAGE}.serve",
        "handler_service:app",
        "--server",
        runtime.server,
        "--workers",
        str(runtime.workers),
        "--keep-alive",
        "5",
        "--graceful-timeout",
        str(DRAIN_SECONDS),
    ]


def render_project(
    project: Project,
    *,
    runtime_files: Mapping[str, bytes],
    source_files: Mapping[str, Mapping[str, bytes]],
    input_digest: str,
    docs: bool | None = None,
) -> Files:
    """Every file of the build output. `source_files[endpoint_key]` maps paths under `source`
    to contents; `docs` forces API docs on or off (`flashctl dev` turns them on)."""
    files: Files = {}
    for endpoint in project.endpoints:
        context = render_endpoint(
            project, endpoint, runtime_files, source_files[endpoint.key], docs=docs
        )
        files.update({f"{endpoint.key}/{path}": data for path, data in context.items()})
    files[MANIFEST] = _manifest(project, files, input_digest)
    return dict(sorted(files.items()))


def render_endpoint(
    project: Project,
    endpoint: Endpoint,
    runtime_files: Mapping[str, bytes],
    source_files: Mapping[str, bytes],
    *,
    docs: bool | None = None,
) -> Files:
    """One self-contained Docker build context."""
    files: Files = {
        "Dockerfile": _template(
            "Dockerfile.j2",
            version=__version__,
            project=project.name,
            endpoint=endpoint.key,
            base_image=endpoint.base_image,
            system_dependencies=" ".join(sorted(endpoint.system_dependencies)),
            port=endpoint.runtime.port,
            cmd=json.dumps(serve_command(endpoint)),
        ),
        ".dockerignore": _template("dockerignore.j2"),
        "requirements.txt": _template(
            "requirements.txt.j2",
            version=__version__,
            runtime_requirements=requirements(endpoint),
            user_requirements=list(endpoint.dependencies),
        ),
        "handler_service.py": _template(
            "handler_service.py.j2", **_service_view(project, endpoint, docs)
        ),
        "endpoint.json": _json(create_body(project, endpoint)),
    }
    for path, data in runtime_files.items():
        files[f"{RUNTIME_PACKAGE}/{path}"] = data
    for path, data in source_files.items():
        files[f"src/{path}"] = data
    return dict(sorted(files.items()))


def requirements(endpoint: Endpoint) -> list[str]:
    return [*RUNTIME_REQUIREMENTS["common"], *RUNTIME_REQUIREMENTS[endpoint.runtime.server]]


def _service_view(project: Project, endpoint: Endpoint, docs: bool | None) -> dict[str, Any]:
    aliases: dict[str, str] = {}  # "module:function" or "module:Class" -> its import alias
    imports: list[str] = []
    targets: dict[str, str] = {}  # handler -> the expression a Route or Settings gets
    handlers = [r.handler for r in endpoint.routes]
    if endpoint.runtime.startup:
        handlers.append(endpoint.runtime.startup)
    for handler in handlers:
        # the schema holds every part to a Python identifier: nothing else reaches the file
        module, _, target = handler.partition(":")
        name, _, method = target.partition(".")  # "Model.generate": a class handler
        imported = f"{module}:{name}"
        if imported not in aliases:
            aliases[imported] = f"_h{len(aliases)}"
            imports.append(f"from {module} import {name} as {aliases[imported]}")
        alias = aliases[imported]
        targets[handler] = f"Method({alias}, {method!r})" if method else alias
    asgi_app = None
    if endpoint.app:  # the schema holds both parts to Python identifiers
        module, _, attribute = endpoint.app.partition(":")
        imports.append(f"from {module} import {attribute} as _app")
        asgi_app = "_app"
    routes = [
        ", ".join(
            [
                f"{r.method!r}",
                f"{r.path!r}",
                targets[r.handler],
                f"timeout={r.timeout!r}",
                f"max_body={r.max_body!r}",
                f"name={r.handler!r}",
                *([f"envelope={r.envelope!r}"] if r.envelope else []),
                *([f"batch={_batch(r.batch)}"] if r.batch else []),
            ]
        )
        for r in endpoint.routes
    ]
    if any(r.batch for r in endpoint.routes):
        imports.append("from flashctl_runtime import Batch")
    runtime = endpoint.runtime
    rate = runtime.rate_limit
    settings = [
        ("title", repr(endpoint.runpod_name)),
        ("version", repr(__version__)),
        ("request_timeout", repr(runtime.request_timeout)),
        ("max_body", repr(runtime.max_body)),
        ("body_timeout", repr(runtime.body_timeout)),
        ("max_concurrency", repr(runtime.max_concurrency)),
        ("rate_limit", repr((rate.requests, rate.per_seconds)) if rate else "None"),
        ("trusted_proxies", repr(runtime.trusted_proxies)),
        ("docs", repr(runtime.docs if docs is None else docs)),
        ("metrics", repr(runtime.metrics)),
        ("startup", targets[runtime.startup] if runtime.startup else "None"),
        ("drain_timeout", repr(float(DRAIN_SECONDS))),
    ]
    if runtime.unknown_keys != "reject":  # the runtime's default; renders stay as they were
        settings.append(("unknown_keys", repr(runtime.unknown_keys)))
    return {
        "version": __version__,
        "endpoint": endpoint.key,
        "imports": imports,
        "routes": routes,
        "settings": settings,
        "asgi_app": asgi_app,
    }


def _batch(batch: Batch) -> str:
    """``Batch(max_size=32, max_wait_ms=10.0, concurrency=1)``: numbers only, from the model."""
    return (
        f"Batch(max_size={int(batch.max_size)!r}, max_wait_ms={float(batch.max_wait_ms)!r},"
        f" concurrency={int(batch.concurrency)!r})"
    )


def _manifest(project: Project, files: Files, input_digest: str) -> bytes:
    manifest = {
        MARKER_FIELD: MARKER_VALUE,
        "flashctl": __version__,
        "project": project.name,
        "environment": project.environment,
        "input_sha256": input_digest,
        "endpoints": {
            e.key: {
                "runpod_name": e.runpod_name,
                "server": e.runtime.server,
                "port": e.runtime.port,
                "routes": [
                    {"method": r.method, "path": r.path, "handler": r.handler} for r in e.routes
                ],
                **({"app": e.app} if e.app else {}),
            }
            for e in project.endpoints
        },
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())},
    }
    return _json(manifest)


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
