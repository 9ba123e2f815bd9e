"""Finding runpod-flash resources and the functions decorated onto them, by parsing each module.

Recognised, as runpod-flash (and tetra-rp before it) documents them:

- a resource object assigned at module level, `gpu = LiveLoadBalancer(name=..., workersMin=1)`
  (also `CpuLiveLoadBalancer`, `LoadBalancerSlsResource`, `CpuLoadBalancerSlsResource` and the
  queue-based `LiveServerless`, `CpuLiveServerless`, `ServerlessEndpoint`,
  `CpuServerlessEndpoint`), with `@remote(gpu, method="POST", path="/x")` on functions, or the
  resource written inline in `@remote(...)`;
- the newer `api = Endpoint(name=..., gpu=...)` with `@api.get("/x")` / `.post` / `.put` /
  `.delete` / `.patch` routes, and `@Endpoint(name=...)` directly on a queue-based function.

A resource may be imported from another module (`from workers.gpu import gpu_config`).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flashctl.import_flash.values import Unknown, dotted_name, evaluate

LOAD_BALANCERS = frozenset(
    {
        "LiveLoadBalancer",
        "CpuLiveLoadBalancer",
        "LoadBalancerSlsResource",
        "CpuLoadBalancerSlsResource",
    }
)
QUEUE_BASED = frozenset(
    {"LiveServerless", "CpuLiveServerless", "ServerlessEndpoint", "CpuServerlessEndpoint"}
)
ENDPOINT = "Endpoint"
RESOURCE_KINDS = LOAD_BALANCERS | QUEUE_BASED | {ENDPOINT}
HTTP_METHODS = ("get", "post", "put", "delete", "patch")
WEB_APPS = ("FastAPI", "APIRouter", "Flask", "Starlette")
ASGI_APPS = ("FastAPI", "Starlette")  # served whole, as `app: "module:name"`
PACKAGES = ("runpod_flash", "tetra_rp")
SKIPPED_DIRS = frozenset(
    {".git", ".hg", "__pycache__", ".venv", "venv", "env", ".tox", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", "node_modules", "build", "dist", ".flash", ".runpod"}
)  # fmt: skip


@dataclass
class Handler:
    """A function (or class) bound to a resource: a route when `method` is set."""

    module: str
    function: str
    where: str
    method: str | None = None
    path: str | None = None
    is_class: bool = False
    methods: list[str] = field(default_factory=list)  # a class's public methods, in order
    dependencies: list[Any] = field(default_factory=list)
    system_dependencies: list[Any] = field(default_factory=list)
    first_parameter: str | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)  # (dotted name called, line)


@dataclass
class Resource:
    ref: str  # "module:variable", or "module:line" when written inline
    kind: str  # the class name, or "Endpoint"
    options: dict[str, Any]
    where: str
    handlers: list[Handler] = field(default_factory=list)
    decorated_directly: bool = False  # `@Endpoint(...)` on a function: queue-based
    package: str = "runpod_flash"  # whose defaults apply: runpod_flash, or tetra_rp

    @property
    def name(self) -> str:
        name = self.options.get("name")
        return name if isinstance(name, str) else self.ref.rsplit(":", 1)[-1]


@dataclass
class WebApp:
    """`app = FastAPI(...)` (or `Starlette(...)`) at module level: served whole."""

    module: str
    name: str
    kind: str
    where: str
    package: str | None  # runpod_flash or tetra_rp when its module imports one


@dataclass
class Scan:
    resources: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    apps: list[WebApp] = field(default_factory=list)
    routers: list[str] = field(default_factory=list)  # where an APIRouter is created
    imports_fastapi: bool = False  # some module imports fastapi
    module_imports: dict[str, set[str]] = field(default_factory=dict)  # module -> packages

    def needs(self, module: str, package: str) -> bool:
        """Whether importing `module` imports `package`: the module itself or a package it is
        in does (`workers.gpu.endpoint` runs `workers/gpu/__init__.py` first)."""
        parts = module.split(".")
        return any(
            package in self.module_imports.get(".".join(parts[:n]), ())
            for n in range(1, len(parts) + 1)
        )

    packages: set[str] = field(default_factory=set)  # runpod_flash / tetra_rp, as imported


@dataclass
class _Pending:
    """A decorator naming a resource by variable, resolved once every module is read."""

    module: str
    name: str
    handler: Handler


def python_files(root: Path) -> Iterator[Path]:
    """The project's modules, in a stable order, without virtualenvs, caches and build output."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            if name.endswith(".py"):
                yield Path(folder) / name


def module_name(path: Path, root: Path) -> str:
    """`workers/gpu/endpoint.py` -> "workers.gpu.endpoint"; `pkg/__init__.py` -> "pkg"."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def scan_project(root: Path) -> Scan:
    """Every resource under `root` with its handlers, and notes on what was not understood."""
    scan = Scan()
    by_ref: dict[str, Resource] = {}
    aliases: dict[str, dict[str, str]] = {}
    pending: list[_Pending] = []
    for path in python_files(root):
        relative = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=relative)
        except (OSError, UnicodeDecodeError, SyntaxError) as err:
            scan.notes.append(f"{relative}: could not be read or parsed ({err}); skipped")
            continue
        scan.files += 1
        module = module_name(path, root)
        reader = _ModuleReader(module, relative, source, path.name == "__init__.py")
        reader.read(tree)
        scan.notes += reader.notes
        aliases[module] = reader.aliases
        package = reader.package_imported()
        scan.packages.update(reader.packages)
        scan.imports_fastapi = scan.imports_fastapi or "fastapi" in reader.imported
        scan.module_imports[module] = reader.imported
        scan.routers += reader.routers
        for name, (kind, where) in reader.web_apps.items():
            if kind in ASGI_APPS:
                scan.apps.append(WebApp(module, name, kind, where, package))
        for resource in reader.resources:
            resource.package = package or "runpod_flash"
            by_ref[resource.ref] = resource
            scan.resources.append(resource)
        pending += reader.pending
    for item in pending:
        target = _resolve(item.module, item.name, by_ref, aliases)
        if target is None:
            scan.notes.append(
                f"{item.handler.where}: {item.handler.function}() is decorated with resource "
                f"'{item.name}', which is not a resource object this project defines; skipped"
            )
        else:
            target.handlers.append(item.handler)
    scan.notes += _cross_endpoint_calls(scan.resources, aliases)
    return scan


def _cross_endpoint_calls(
    resources: list[Resource], aliases: dict[str, dict[str, str]]
) -> list[str]:
    """A handler calling another endpoint's function: runpod-flash sent that call to the other
    endpoint's workers; served by flashctl it runs in the caller's process. Reported, not
    changed."""
    owners = {f"{h.module}:{h.function}": r for r in resources for h in r.handlers}
    notes = []
    for resource in resources:
        for handler in resource.handlers:
            for name, line in handler.calls:
                head, _, attribute = name.partition(".")
                imported = aliases.get(handler.module, {}).get(head)
                if attribute:  # `module.function(...)` through an imported module
                    dotted = f"{(imported or '').replace(':', '.').lstrip('.')}.{attribute}"
                    module, _, function = dotted.rpartition(".")
                    target = f"{module}:{function}" if imported else None
                else:
                    target = imported or f"{handler.module}:{head}"
                other = owners.get(target or "")
                if other is None or other is resource:
                    continue
                file = handler.where.rsplit(":", 1)[0]
                notes.append(
                    f"{file}:{line}: {handler.function}() calls {name}() of {other.kind} "
                    f"'{other.name}': served by flashctl, that call runs in this endpoint's "
                    "process, not on the other endpoint's workers; call its URL to keep it apart"
                )
    return notes


def _resolve(
    module: str, name: str, by_ref: dict[str, Resource], aliases: dict[str, dict[str, str]]
) -> Resource | None:
    """The resource a decorator names: `gpu_config` defined here or imported (`from x import
    gpu_config`), `config.api` through an imported module, else the one resource of that name."""
    head, _, attribute = name.partition(".")
    imported = aliases.get(module, {}).get(head)
    candidates = [f"{module}:{name}"]
    if imported is not None and not attribute:
        candidates.append(imported)  # "pkg.module:object"
    if imported is not None and attribute:
        as_module = imported.replace(":", ".").lstrip(".")  # "pkg:config" -> "pkg.config"
        candidates.append(f"{as_module}:{attribute}")
    for ref in candidates:
        if ref in by_ref:
            return by_ref[ref]
    last = name.rsplit(".", 1)[-1]
    same_name = [r for ref, r in by_ref.items() if ref.rsplit(":", 1)[-1] == last]
    return same_name[0] if len(same_name) == 1 else None


class _ModuleReader:
    def __init__(self, module: str, relative: str, source: str, is_package: bool) -> None:
        self.module = module
        self.relative = relative
        self.source = source
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}
        self.resources: list[Resource] = []
        self.pending: list[_Pending] = []
        self.notes: list[str] = []
        self.web_apps: dict[str, tuple[str, str]] = {}  # name -> (kind, where)
        self.routers: list[str] = []
        self.imported: set[str] = set()  # top-level packages imported
        self.packages: set[str] = set()  # runpod_flash / tetra_rp, as imported here

    def package_imported(self) -> str | None:
        """The runpod-flash package this module imports (tetra_rp only when it alone is)."""
        if "runpod_flash" in self.packages:
            return "runpod_flash"
        return "tetra_rp" if "tetra_rp" in self.packages else None

    def where(self, node: ast.AST) -> str:
        return f"{self.relative}:{getattr(node, 'lineno', 0)}"

    def read(self, tree: ast.Module) -> None:
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                self._import(node)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self._imported(alias.name)
                    # `import a.b` binds `a`; `import a.b as c` binds `c` to a.b
                    bound = alias.asname or alias.name.split(".")[0]
                    self.aliases[bound] = alias.name if alias.asname else bound
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                self._assign(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._definition(node)

    def _imported(self, module: str) -> None:
        top = module.split(".")[0]
        self.imported.add(top)
        if top in PACKAGES:
            self.packages.add(top)

    def _import(self, node: ast.ImportFrom) -> None:
        if not node.level and node.module:
            self._imported(node.module)
        base = node.module or ""
        if node.level:
            package = self.package.split(".") if self.package else []
            package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            # an object of module `base`, or its submodule: which one shows when resolving
            self.aliases[alias.asname or alias.name] = (
                f"{base}:{alias.name}" if base else alias.name
            )

    def _assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if node.value is None or len(targets) != 1 or not isinstance(targets[0], ast.Name):
            return
        name, value = targets[0].id, node.value
        if isinstance(value, ast.Call):
            called = (dotted_name(value.func) or "").rsplit(".", 1)[-1]
            if called in RESOURCE_KINDS:
                self.resources.append(self._resource(value, f"{self.module}:{name}", called))
                return
            if called in WEB_APPS:
                self.web_apps[name] = (called, self.where(node))
                if called == "APIRouter":
                    self.routers.append(f"{self.where(node)}: APIRouter '{name}'")
                elif called not in ASGI_APPS:  # Flask speaks WSGI, not ASGI
                    self.notes.append(
                        f"{self.where(node)}: a {called} app ('{name}') is not an ASGI app; "
                        "its routes are not translated: serve them as functions under routes:"
                    )
                return
        evaluated = evaluate(value, self.names, self.source)
        if not isinstance(evaluated, Unknown):
            self.names[name] = evaluated

    def _resource(self, call: ast.Call, ref: str, kind: str) -> Resource:
        options = {
            kw.arg: evaluate(kw.value, self.names, self.source) for kw in call.keywords if kw.arg
        }
        if call.args and "name" not in options:
            options["name"] = evaluate(call.args[0], self.names, self.source)
        if any(kw.arg is None for kw in call.keywords):
            self.notes.append(f"{self.where(call)}: `**options` in {kind}(...) are not read")
        return Resource(ref, kind, options, self.where(call))

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            handler = Handler(
                module=self.module,
                function=node.name,
                where=self.where(node),
                is_class=isinstance(node, ast.ClassDef),
                methods=_public_methods(node),
                first_parameter=_first_parameter(node),
                calls=_calls(node),
            )
            self._decorator(decorator, handler)

    def _decorator(self, decorator: ast.expr, handler: Handler) -> None:
        call = decorator if isinstance(decorator, ast.Call) else None
        name = dotted_name(call.func if call else decorator) or ""
        last = name.rsplit(".", 1)[-1]
        if last == "remote":
            self._remote(call, handler)
        elif last == ENDPOINT and call is not None:
            resource = self._resource(call, f"{self.module}:{call.lineno}", ENDPOINT)
            resource.decorated_directly = True
            resource.handlers.append(handler)
            self.resources.append(resource)
        elif last in HTTP_METHODS and "." in name and call is not None:
            owner = name.rsplit(".", 1)[0]
            if owner in self.web_apps:
                return  # reported once, at the app
            path = evaluate(call.args[0], self.names, self.source) if call.args else None
            if not isinstance(path, str):
                self.notes.append(f"{handler.where}: @{name}(...) without a literal path; skipped")
                return
            handler.method, handler.path = last.upper(), path
            self.pending.append(_Pending(self.module, owner, handler))

    def _remote(self, call: ast.Call | None, handler: Handler) -> None:
        if call is None:
            self.notes.append(f"{handler.where}: @remote without a resource; skipped")
            return
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg}
        target = call.args[0] if call.args else keywords.get("resource_config")
        for option in ("method", "path"):
            if option in keywords:
                value = evaluate(keywords[option], self.names, self.source)
                setattr(
                    handler,
                    option,
                    value.upper() if option == "method" and isinstance(value, str) else value,
                )
        for option in ("dependencies", "system_dependencies"):
            if option in keywords:
                value = evaluate(keywords[option], self.names, self.source)
                setattr(handler, option, value if isinstance(value, list) else [value])
        if keywords.get("local") is not None:
            local = evaluate(keywords["local"], self.names, self.source)
            if local is True:
                self.notes.append(f"{handler.where}: @remote(local=True) runs locally; skipped")
                return
        if isinstance(target, ast.Call):
            called = (dotted_name(target.func) or "").rsplit(".", 1)[-1]
            if called in RESOURCE_KINDS:
                resource = self._resource(target, f"{self.module}:{target.lineno}", called)
                resource.handlers.append(handler)
                self.resources.append(resource)
                return
        named = dotted_name(target) if target is not None else None
        if named:
            self.pending.append(_Pending(self.module, named, handler))
            return
        shown = ast.get_source_segment(self.source, target) if target is not None else "nothing"
        self.notes.append(f"{handler.where}: @remote({shown}) names no resource object; skipped")


def _calls(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[tuple[str, int]]:
    """Every `name(...)` or `module.name(...)` called in a function's or class's body."""
    found = []
    for statement in node.body:
        for call in ast.walk(statement):
            if isinstance(call, ast.Call):
                name = dotted_name(call.func)
                if name:
                    found.append((name, call.lineno))
    return found


def _public_methods(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    """The methods a class endpoint serves: defined in its body with `self`, not `_private`, not
    `setup` (flashctl calls it at start-up), not static or class methods."""
    if not isinstance(node, ast.ClassDef):
        return []
    names: list[str] = []
    for item in node.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        decorators = {(dotted_name(d) or "").rsplit(".", 1)[-1] for d in item.decorator_list}
        if item.name.startswith("_") or item.name == "setup" or item.name in names:
            continue
        if not decorators & {"staticmethod", "classmethod", "property"}:
            names.append(item.name)
    return names


def _first_parameter(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str | None:
    if isinstance(node, ast.ClassDef):
        return None
    names = [a.arg for a in [*node.args.posonlyargs, *node.args.args] if a.arg != "self"]
    return names[0] if names else None
