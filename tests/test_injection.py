"""No value from flash.yaml becomes an instruction of its own in a generated file.

Every string of a document that sets every field (and every key a user names) is given each
control character in turn, with an instruction after it (`python:3.11-slim<char>RUN echo
INJECTED`). Each such value is either refused by `validate` at its own line, or, once the refused
ones are taken out, the project renders and every output parses back to the same shape as the
clean render: the same Dockerfile instructions, the same requirements.txt lines, the same Python
statements, the same JSON and YAML structure. So a value that gets through comes out escaped.
"""

from __future__ import annotations

import ast
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from flashctl.compiler.pipeline import compile_text
from flashctl.kubernetes.render import render_kubernetes
from flashctl.problems import JsonPath
from flashctl.render import source_copy
from flashctl.render.contexts import render_project
from flashctl.schema.checker import inlined_schema

HANDLERS = (
    "def go(item: str, body: dict):\n    return body\n\n\ndef start():\n    return None\n"
    "\n\nasgi = go\n"
)
ROUTE = {"method": "POST", "path": "/go/{item}", "handler": "app:go", "summary": "Go."}
KUBERNETES = {
    "namespace": "ml-serving",
    "secret_name": "demo.secrets",
    "resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "8Gi"}},
    "node_selector": {"pool": "gpu"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    ],
    "image_pull_secrets": ["registry-example-com"],
    "ingress": {"host": "api.example.com", "class_name": "nginx", "tls_secret": "api-tls"},
}
DOCUMENT: dict[str, Any] = {
    "version": 1,
    "project": "demo",
    "defaults": {"dependencies": ["numpy>=2"]},
    "endpoints": {
        "api": {
            "type": "load_balancer",
            "source": ".",
            "python": "3.11",
            "base_image": "python:3.11-slim",
            "image": "ghcr.io/acme/api:1",
            "registry": "ghcr.io/acme",
            "registry_auth": "cred-1",
            "args": "--log-level info",
            "dependencies": ["requests>=2", "pkg @ https://example.com/pkg-1.0.tar.gz"],
            "system_dependencies": ["curl", "git=1:2.39"],
            "compute": {
                "cpu": [{"flavor": "cpu5c", "vcpus": 2}],
                "data_centers": ["EU-RO-1"],
                "network_volumes": ["vol-1"],
            },
            "scaling": {"flashboot": "on"},
            "runtime": {
                "server": "uvicorn",
                "health_path": "/healthz",
                "max_body": "1MB",
                "rate_limit": {"requests": 5, "per": "second"},
                "startup": "app:start",
                "unknown_keys": "ignore",
            },
            "env": {"LOG_LEVEL": "info", "HF_TOKEN": {"secret": "hf_token"}},
            "kubernetes": KUBERNETES,
            "routes": [{**ROUTE, "max_body": "1KB", "envelope": "input"}],
        },
        "gpu": {
            "image": "ghcr.io/acme/gpu:1",
            "registry_auth": {
                "name": "acme-ghcr",
                "username_env": "GHCR_USER",
                "password_env": "GHCR_TOKEN",
            },
            "compute": {
                "gpu": {
                    "pools": ["ADA_24", "ADA_48_PRO"],
                    "exclude": ["NVIDIA L40"],
                    "min_cuda": "12.4",
                }
            },
            "routes": [ROUTE],
        },
        "whole": {
            "image": "ghcr.io/acme/whole:1",
            "compute": {"cpu": [{"flavor": "cpu5c", "vcpus": 2}]},
            "app": "app:asgi",
        },
        "cuda": {
            "image": "ghcr.io/acme/cuda:1",
            "registry": "ghcr.io/acme",
            "compute": {"gpu": {"pools": ["ADA_24"], "cuda_versions": ["12.8"]}},
            "routes": [ROUTE],
        },
    },
    "environments": {"prod": {"endpoints": {"gpu": {"env": {"STAGE": "prod"}}}}},
}
# Mappings whose keys the user names (the other keys are the schema's own words).
NAMED_KEYS = ("endpoints", "environments", "env", "node_selector", "requests", "limits")
# Characters that are not printable: C0, DEL, C1 (its ends and NEL), the Unicode line and
# paragraph separators, a byte-order mark and a lone surrogate (as a `\ud800` escape).
CHARACTERS = [
    *map(chr, range(0x20)),
    "\x7f",
    "\x80",
    "\x85",  # NEL: a line break to str.splitlines, so to pip
    "\x9f",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
]


def _emit(
    value: Any, indent: int, path: JsonPath, lines: list[str], at: dict[JsonPath, int]
) -> None:
    """`value` (a mapping) as block YAML into `lines`, one key or item per line; `at` gets the
    line of every key and scalar by path. Scalars are JSON, which YAML reads as double-quoted
    strings, escapes and all."""
    pad = " " * indent
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        head = f"{pad}{json.dumps(key)}:" if isinstance(value, dict) else f"{pad}-"
        at[(*path, key)] = len(lines) + 1
        if isinstance(item, (dict, list)) and item:
            lines.append(head)
            _emit(item, indent + 2, (*path, key), lines, at)
        else:
            lines.append(f"{head} {json.dumps(item)}")


def _yaml(document: dict[str, Any]) -> tuple[str, dict[JsonPath, int]]:
    lines: list[str] = []
    at: dict[JsonPath, int] = {}
    _emit(document, 0, (), lines, at)
    return "\n".join(lines) + "\n", at


def _targets(value: Any, path: JsonPath = ()) -> list[JsonPath]:
    """Paths of every string value, and of every key a user names (as `(*path, ("key",))`)."""
    found: list[JsonPath] = []
    if isinstance(value, str):
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value or [])
    for key, item in items:
        if isinstance(value, dict) and path and path[-1] in NAMED_KEYS:
            found.append((*path, ("key", key)))  # type: ignore[arg-type]
        found += _targets(item, (*path, key)) if isinstance(item, (dict, list, str)) else []
    return found


def _mutated(document: Any, targets: set[JsonPath], char: str, path: JsonPath = ()) -> Any:
    """A copy of `document` with `char` and an instruction inserted into every target."""
    if isinstance(document, str):
        return f"{document}{char}RUN echo INJECTED" if path in targets else document
    if isinstance(document, list):
        return [_mutated(v, targets, char, (*path, i)) for i, v in enumerate(document)]
    if isinstance(document, dict):
        result = {}
        for key, item in document.items():
            name = f"{key}{char}x" if (*path, ("key", key)) in targets else key
            result[name] = _mutated(item, targets, char, (*path, key))
        return result
    return document


def _line(target: JsonPath, at: dict[JsonPath, int]) -> int:
    """The line of `target` in the mutated text (it is laid out like the clean one)."""
    if target and isinstance(target[-1], tuple):
        return at[(*target[:-1], target[-1][1])]
    return at[target]


def _render(text: str, base_dir: Path, environment: str) -> tuple[list[Any], dict[str, bytes]]:
    result = compile_text(
        text, "flash.yaml", base_dir=base_dir, variables={}, environment=environment
    )
    errors = list(result.errors)
    if errors or result.project is None:
        return errors, {}
    project = result.project
    files = render_project(
        project,
        runtime_files=source_copy.runtime_files(),
        source_files={e.key: {"app.py": HANDLERS.encode()} for e in project.endpoints},
        input_digest="0" * 64,
    )
    files.update({f"kubernetes/{k}": v for k, v in render_kubernetes(project).items()})
    return [], files


def _shape(value: Any) -> Any:
    """The structure of parsed data without the text of keys and values."""
    if isinstance(value, dict):
        return ("map", sorted((_shape(v) for v in value.values()), key=repr))
    if isinstance(value, list):
        return ("list", [_shape(v) for v in value])
    return type(value).__name__


def _dockerfile(text: str) -> list[str]:
    instructions, continued = [], False
    for line in text.split("\n"):
        if not continued and line.strip() and not line.lstrip().startswith("#"):
            instructions.append(line.split()[0])
        continued = line.endswith("\\")
    return instructions


def _signature(files: dict[str, bytes]) -> list[Any]:
    """What a reader of each generated file sees, without the values' own text."""
    signature = []
    for path, data in files.items():
        text = data.decode("utf-8")
        kind = path.rsplit("/", 1)[-1]
        lines = (len(text.split("\n")), len(text.splitlines()))
        if kind == "Dockerfile":
            signature.append((kind, lines, _dockerfile(text)))
        elif kind == "requirements.txt":
            options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
            signature.append((kind, lines, options))
        elif kind.endswith(".py"):
            signature.append((kind, lines, [type(s).__name__ for s in ast.parse(text).body]))
        elif kind.endswith(".json"):
            signature.append((kind, lines, _shape(json.loads(text))))
        elif kind.endswith(".yaml"):
            header = text.split("---", 1)[0].count("\n")
            documents = list(YAML(typ="safe").load_all(text))
            signature.append((kind, header, [_shape(d) for d in documents]))
        else:
            signature.append((kind, lines))
    return sorted(signature, key=repr)


@functools.cache
def _clean_signature() -> list[Any]:
    with tempfile.TemporaryDirectory() as folder:
        text, _ = _yaml(DOCUMENT)
        errors, files = _render(text, _case(Path(folder)), "prod")
    assert not errors, errors
    return _signature(files)


def _case(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLERS)
    return tmp_path


def test_the_document_sets_every_string_field_of_the_schema() -> None:
    # A new string field must be added to DOCUMENT, so that it is tried with every character.
    def strings(schema: Any, path: str = "") -> set[str]:
        found: set[str] = set()
        if not isinstance(schema, dict):
            return found
        kind = schema.get("type")
        if kind == "string" or (isinstance(kind, list) and "string" in kind):
            found.add(path)
        for key, sub in schema.get("properties", {}).items():
            found |= strings(sub, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            found |= strings(schema.get(key), f"{path}[]")
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key, []):
                found |= strings(sub, path)
        return found

    def present(value: Any, path: str = "") -> set[str]:
        found = {path} if isinstance(value, str) else set()
        if isinstance(value, dict):
            for key, item in value.items():
                found |= present(item, f"{path}.{key}")
                found |= present(item, f"{path}[]")
        elif isinstance(value, list):
            for item in value:
                found |= present(item, f"{path}[]")
        return found

    fields = inlined_schema()["$defs"]["endpointFields"]
    wanted = {f".endpoints[]{p}" for p in strings(fields)} | {".project"}
    missing = wanted - present(DOCUMENT)
    assert not missing, f"set these in DOCUMENT: {sorted(missing)}"


def test_the_clean_document_renders() -> None:
    assert _clean_signature()


@pytest.mark.slow  # ~0.4 s a character
@pytest.mark.parametrize("char", CHARACTERS, ids=[f"U+{ord(c):04X}" for c in CHARACTERS])
def test_a_control_character_in_any_value_is_refused_where_it_is_or_comes_out_escaped(
    tmp_path: Path, char: str
) -> None:
    base_dir = _case(tmp_path)
    _, at = _yaml(DOCUMENT)
    targets = set(_targets(DOCUMENT))
    refused: set[JsonPath] = set()
    for _ in range(len(targets)):
        trying = targets - refused
        document = _mutated(DOCUMENT, trying, char)
        environment = "prod" + (char + "x" if ("environments", ("key", "prod")) in trying else "")
        text, _ = _yaml(document)
        errors, files = _render(text, base_dir, environment)
        if not errors:
            assert _signature(files) == _clean_signature(), (
                f"a value with {char!r} changed a generated file's shape;"
                f" tried: {sorted(map(str, trying))}"
            )
            return
        lines = {problem.line for problem in errors}
        hit = {t for t in trying if _line(t, at) in lines}
        assert hit, f"{char!r}: errors, but none at a changed value: {errors}"
        refused |= hit
    pytest.fail("no round without errors")


SMALL = """\
version: 1
project: {project}
endpoints:
  {key}:
    base_image: {base_image}
    dependencies: [{dependency}]
    system_dependencies: [{package}]
    compute: {{cpu: [{{flavor: cpu5c, vcpus: 2}}]}}
    routes:
      - {{method: POST, path: "/go/{{item}}", handler: "app:go"}}
environments:
  {environment}: {{}}
"""
GOOD = {
    "project": "demo",
    "key": "api",
    "base_image": "python:3.11-slim",
    "dependency": "msgpack",
    "package": "curl",
    "environment": "prod",
}


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("base_image", '"python:3.11-slim\\nRUN echo INJECTED"', 5),
        ("base_image", "${BASE}", 5),
        ("dependency", '"msgpack\\n--index-url http://127.0.0.1:9/simple"', 6),
        ("dependency", '"msgpack --index-url http://127.0.0.1:9/simple"', 6),
        ("dependency", '"--index-url=http://127.0.0.1:9/simple"', 6),
        ("dependency", '"-e ."', 6),
        ("dependency", '"-r other.txt"', 6),
        ("package", '"curl\\n"', 7),
        ("project", '"demo\\n"', 2),
        ("key", '"api\\n"', 4),
        ("environment", '"prod\\n"', 12),
    ],
)
def test_a_value_that_would_add_a_line_is_refused_at_its_position(
    run_cli: Any, tmp_path: Path, field: str, value: str, line: int
) -> None:
    (tmp_path / "app.py").write_text(HANDLERS)
    path = tmp_path / "flash.yaml"
    path.write_text(SMALL.format(**{**GOOD, field: value}))
    environment = "prod\n" if field == "environment" else "prod"
    base = "python:3.11-slim\nRUN echo INJECTED"
    result = run_cli("validate", "-f", str(path), "-e", environment, "--var", f"BASE={base}")
    assert result.exit_code == 1, result
    assert f"flash.yaml:{line}:" in result.stdout, result
    assert "[schema]" in result.stdout, result
    rendered = run_cli("render", "-f", str(path), "-e", environment, "-o", str(tmp_path / "out"))
    assert rendered.exit_code == 1, rendered
    assert not (tmp_path / "out").exists()


def test_the_clean_small_document_validates(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(HANDLERS)
    (tmp_path / "flash.yaml").write_text(SMALL.format(**GOOD))
    result = run_cli("validate", "-f", str(tmp_path / "flash.yaml"), "-e", "prod")
    assert result.exit_code == 0, result


def test_render_refuses_a_value_that_would_span_lines_even_if_validate_let_it_through(
    tmp_path: Path,
) -> None:
    from flashctl.errors import RenderError

    result = compile_text(
        SMALL.format(**GOOD), "flash.yaml", base_dir=_case(tmp_path), variables={}
    )
    assert result.project is not None
    endpoint = result.project.endpoints[0]._replace(base_image="python:3.11\nRUN echo INJECTED")
    project = result.project._replace(endpoints=(endpoint,))
    with pytest.raises(RenderError, match="would get a line"):
        render_project(project, runtime_files={}, source_files={"api": {}}, input_digest="0" * 64)
