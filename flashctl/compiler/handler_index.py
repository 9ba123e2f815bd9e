"""Finding handler functions in user code by parsing it with `ast`, never importing it.

Importing would run the user's module (model downloads, `sys.exit()`, side effects); parsing tells
us whether a top-level `def`/`async def` exists and what parameters it takes, or, for a class
handler (`Model.generate`), whether a top-level class defines that method in its own body (its
parameters then start after `self`; inherited methods are not followed).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from flashctl.model import Endpoint


class Parameter(NamedTuple):
    name: str
    kind: str  # positional_only | positional_or_keyword | keyword_only
    required: bool
    annotation: str | None


class Function(NamedTuple):
    name: str
    file: Path
    line: int
    parameters: tuple[Parameter, ...]
    var_keyword: bool
    docstring: str | None
    calls: tuple[tuple[str, int], ...] = ()  # `name(...)` / `module.name(...)` in its body, line


class Missing(NamedTuple):
    """Why a handler could not be found; `reason` is a sentence for the user."""

    reason: str


# file, top-level functions, top-level classes (name -> its methods), tree, imports
# (bound name -> "module:name" for `from module import name`, "module" for `import module`)
_Module = tuple[Path, dict[str, Function], dict[str, "_Class"], ast.Module, dict[str, str]]


class _Class(NamedTuple):
    line: int
    methods: dict[str, Function | Missing]  # a static or class method is Missing, with why
    init: Function | None  # its own __init__, without `self`


Key = tuple[Path, str, str]  # (source folder, module, name)


class HandlerIndex(NamedTuple):
    """What the handler rules know of the user's code: read once, at the edge (each compile,
    so each `flashctl dev` reload), then handed to the rules, which read no disk themselves.
    A test of a rule builds one by hand."""

    functions: Mapping[Key, Function | Missing]  # (source, module, function or Class.method)
    inits: Mapping[Key, Function | None]  # (source, module, class) -> its own __init__
    calls: Mapping[Key, str | None]  # (source, module, called name) -> "module:function"
    apps: Mapping[Key, int | Missing] = {}  # (source, module, attribute) -> its line, for `app:`

    def function(self, source_dir: Path, module: str, function: str) -> Function | Missing:
        return self.functions.get(
            (source_dir, module, function), Missing(f"'{module}:{function}' was not read")
        )

    def init(self, source_dir: Path, module: str, owner: str) -> Function | None:
        return self.inits.get((source_dir, module, owner))

    def call(self, source_dir: Path, module: str, name: str) -> str | None:
        return self.calls.get((source_dir, module, name))

    def app(self, source_dir: Path, module: str, attribute: str) -> int | Missing:
        return self.apps.get(
            (source_dir, module, attribute), Missing(f"'{module}:{attribute}' was not read")
        )


def index_handlers(endpoints: Iterable[Endpoint]) -> HandlerIndex:
    """Read every handler (and startup hook) the endpoints name, the `__init__` of each class
    handler, and where each handler's calls lead. The caller passes only endpoints whose
    `source` is usable, so nothing outside the project is read."""
    forget()  # user code may have changed since the last compile
    functions: dict[Key, Function | Missing] = {}
    inits: dict[Key, Function | None] = {}
    calls: dict[Key, str | None] = {}
    apps: dict[Key, int | Missing] = {}
    for endpoint in endpoints:
        source_dir = endpoint.source_dir
        if endpoint.app:
            module, _, attribute = endpoint.app.partition(":")
            apps[(source_dir, module, attribute)] = find_attribute(source_dir, module, attribute)
        names = [(r.module, r.function) for r in endpoint.routes]
        if endpoint.runtime.startup:
            module, _, function = endpoint.runtime.startup.partition(":")
            names.append((module, function))
        for module, function in names:
            if (source_dir, module, function) in functions:
                continue
            found = find_function(source_dir, module, function)
            functions[(source_dir, module, function)] = found
            owner, dot, _ = function.partition(".")
            if dot:
                inits[(source_dir, module, owner)] = find_init(source_dir, module, owner)
            if isinstance(found, Function):
                for name, _line in found.calls:
                    calls[(source_dir, module, name)] = resolve_call(source_dir, module, name)
    return HandlerIndex(functions, inits, calls, apps)


def forget() -> None:
    """Drop what earlier lookups found (called at the start of every check run)."""
    find_function.cache_clear()
    _module.cache_clear()


def module_file(source_dir: Path, module: str) -> Path | None:
    """`pkg.mod` -> `<source>/pkg/mod.py` or `<source>/pkg/mod/__init__.py`, if either exists."""
    base = source_dir.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4096)
def find_function(source_dir: Path, module: str, function: str) -> Function | Missing:
    """The top-level function `function` (or `Class.method`) of `module` under `source_dir`,
    or why it is missing.

    Cached, as is each module's table of functions: several rules ask about the same handlers,
    and a module usually holds many; `forget()` starts each compile afresh so an edited file is
    read again (`flashctl dev`).
    """
    found = _module(source_dir, module)
    if isinstance(found, Missing):
        return found
    path, functions, classes, tree, _ = found
    if "." in function:
        return _method(path, classes, *function.split(".", 1))
    if function in functions:
        return functions[function]
    owner = next((name for name, c in classes.items() if function in c.methods), None)
    if owner is not None:
        return Missing(
            f"'{function}' is a method of class {owner}: name it `{module}:{owner}.{function}`"
        )
    nested = any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
        for node in ast.walk(tree)
    )
    if nested:
        return Missing(
            f"function '{function}' is nested inside another function or class;"
            f" move it to the top level of {path.name}"
        )
    return Missing(f"no function '{function}' is defined at the top level of {path.name}")


def find_attribute(source_dir: Path, module: str, name: str) -> int | Missing:
    """The line where `module` binds `name` at module level (`app = FastAPI()`, an annotated
    assignment, `from .api import app`, a `def` or `class`), or why it does not. What the name
    holds is only known by running the module, which validate never does."""
    found = _module(source_dir, module)
    if isinstance(found, Missing):
        return found
    path, _, _, tree, _ = found
    for node in _module_level(tree.body):
        if _binds(node, name):
            return node.lineno
    nested = any(_binds(node, name) for node in ast.walk(tree) if isinstance(node, ast.stmt))
    if nested:
        return Missing(
            f"'{name}' is assigned inside a function or class in {path.name}; an app must be"
            " a module-level name (`app = FastAPI()` at the top level)"
        )
    return Missing(f"nothing named '{name}' is assigned at the top level of {path.name}")


def _binds(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any(
            (alias.asname or alias.name.split(".")[0]) == name
            for alias in node.names
            if alias.name != "*"
        )
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and (
        not isinstance(node, ast.AnnAssign) or node.value is not None
    ):
        targets = [node.target]
    return any(
        isinstance(leaf, ast.Name) and leaf.id == name
        for target in targets
        for leaf in ast.walk(target)
    )


@functools.lru_cache(maxsize=1024)
def _module(source_dir: Path, module: str) -> _Module | Missing:
    """The file of `module`, its module-level functions by name and its syntax tree; or why it
    cannot be read."""
    try:
        if not source_dir.is_dir():
            return Missing(f"source folder {source_dir} does not exist")
        path = module_file(source_dir, module)
    except (OSError, ValueError) as err:  # a name too long, a NUL byte: not a usable path
        return Missing(f"'{module}' under {source_dir} is not a usable path ({err})")
    if path is None:
        wanted = module.replace(".", "/")
        return Missing(f"module '{module}' not found: expected {wanted}.py under {source_dir}")
    try:
        stat = path.stat()
    except OSError as err:
        return Missing(f"{path} cannot be read: {err.strerror}")
    parsed = _parse(path, stat.st_mtime_ns, stat.st_size)
    if isinstance(parsed, Missing):
        return parsed
    functions: dict[str, Function] = {}
    classes: dict[str, _Class] = {}
    imports: dict[str, str] = {}
    try:
        for node in _module_level(parsed.body):
            _imports(node, module, path.name == "__init__.py", imports)
            if isinstance(node, ast.ClassDef) and node.name not in classes:
                classes[node.name] = _class(node, path)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name not in functions:  # the first definition, as before
                functions[node.name] = _function(node, path)
    except RecursionError:  # an annotation nested thousands deep: ast.unparse recurses
        return Missing(f"{path.name} cannot be read: it nests too deeply")
    return path, functions, classes, parsed, imports


def _imports(node: ast.stmt, module: str, is_package: bool, imports: dict[str, str]) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                imports[alias.asname] = alias.name
            else:
                imports[alias.name.split(".")[0]] = alias.name.split(".")[0]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the package this module is in
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            imports[alias.asname or alias.name] = f"{base}:{alias.name}"


def resolve_call(source_dir: Path, module: str, name: str) -> str | None:
    """The `module:function` a call to `name` (`f` or `pkg.mod.f`) made in `module` reaches,
    as far as parsing tells: a function of the module itself or an imported one."""
    found = _module(source_dir, module)
    if isinstance(found, Missing):
        return None
    _, functions, _, _, imports = found
    head, _, rest = name.partition(".")
    imported = imports.get(head)
    if not rest:
        if imported is not None:
            return imported if ":" in imported else None
        return f"{module}:{head}" if head in functions else None
    if imported is None:
        return None
    dotted = f"{imported.replace(':', '.')}.{rest}"
    target_module, _, function = dotted.rpartition(".")
    return f"{target_module}:{function}"


def _class(node: ast.ClassDef, path: Path) -> _Class:
    methods: dict[str, Function | Missing] = {}
    init = None
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__":
            found = _function(item, path)
            init = found._replace(name=f"{node.name}.__init__", parameters=found.parameters[1:])
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) or item.name in methods:
            continue
        decorators = {(ast.unparse(d).rsplit(".", 1)[-1]) for d in item.decorator_list}
        static = decorators & {"staticmethod", "classmethod"}
        if static:
            methods[item.name] = Missing(
                f"{node.name}.{item.name} is a {static.pop()}; a class handler is a method of"
                " the instance (`def name(self, ...)`)"
            )
            continue
        method = _function(item, path)
        methods[item.name] = method._replace(
            name=f"{node.name}.{item.name}", parameters=method.parameters[1:]
        )
    return _Class(node.lineno, methods, init)


def find_init(source_dir: Path, module: str, owner: str) -> Function | None:
    """The `__init__` a top-level class `owner` of `module` defines in its body, if any."""
    found = _module(source_dir, module)
    if isinstance(found, Missing):
        return None
    cls = found[2].get(owner)  # the module's classes
    return cls.init if cls is not None else None


def _method(path: Path, classes: dict[str, _Class], owner: str, name: str) -> Function | Missing:
    cls = classes.get(owner)
    if cls is None:
        return Missing(f"no class '{owner}' is defined at the top level of {path.name}")
    found = cls.methods.get(name)
    if found is None:
        return Missing(
            f"class {owner} ({path.name}:{cls.line}) defines no method '{name}' in its body"
        )
    return found


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run when the module is imported: the body, and the branches of `if`,
    `try` and `with` blocks in it (a `def` under `if sys.version_info >= ...` is module-level)."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from _module_level(node.body)


@functools.lru_cache(maxsize=256)
def _parse(path: Path, mtime_ns: int, size: int) -> ast.Module | Missing:
    # mtime and size are part of the key so an edited file is parsed again (flashctl dev).
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as err:
        return Missing(f"{path.name} line {err.lineno}: cannot be parsed: {err.msg}")
    except (RecursionError, MemoryError):
        return Missing(f"{path.name} cannot be parsed: it nests too deeply for Python to compile")
    except (OSError, ValueError) as err:
        return Missing(f"{path} cannot be read: {err}")


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, path: Path) -> Function:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [
        Parameter(
            arg.arg,
            "positional_only" if i < len(args.posonlyargs) else "positional_or_keyword",
            i < first_default,
            ast.unparse(arg.annotation) if arg.annotation else None,
        )
        for i, arg in enumerate(positional)
    ]
    params += [
        Parameter(
            arg.arg,
            "keyword_only",
            default is None,
            ast.unparse(arg.annotation) if arg.annotation else None,
        )
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    calls = tuple(
        (name, call.lineno)
        for statement in node.body
        for call in ast.walk(statement)
        if isinstance(call, ast.Call) and (name := _dotted(call.func))
    )
    return Function(
        node.name,
        path,
        node.lineno,
        tuple(params),
        args.kwarg is not None,
        ast.get_docstring(node),
        calls,
    )


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None
