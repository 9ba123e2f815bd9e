"""The handler rules read no disk: they get what the user's code holds from an index built at
the edge (each compile), so a rule test can hand them one."""

from __future__ import annotations

from pathlib import Path

from flashctl.checks import cross_endpoint, handler_signature, handlers
from flashctl.compiler.handler_index import Function, HandlerIndex, Missing, Parameter
from flashctl.compiler.pipeline import compile_text

TEXT = """\
version: 1
project: shop
endpoints:
  api:
    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}
    routes:
      - {method: GET, path: "/items/{item_id}", handler: "nowhere:get_item"}
"""


def compiled(tmp_path: Path):
    result = compile_text(TEXT, str(tmp_path / "flash.yaml"), base_dir=tmp_path, variables={})
    assert result.project is not None and result.document is not None
    # The module does not exist on disk: the compile itself says so.
    assert [p.rule for p in result.errors] == ["handler-not-found"]
    return result.project, result.document


def index(tmp_path: Path, found: Function | Missing) -> HandlerIndex:
    return HandlerIndex({(tmp_path, "nowhere", "get_item"): found}, {}, {})


def function(*names: str) -> Function:
    parameters = tuple(Parameter(n, "positional_or_keyword", True, None) for n in names)
    return Function("get_item", Path("nowhere.py"), 3, parameters, False, None)


def test_a_handler_the_index_holds_is_found_though_no_file_exists(tmp_path):
    project, document = compiled(tmp_path)
    held = index(tmp_path, function("item_id"))

    assert list(handlers.check(project, document, held)) == []
    assert list(handler_signature.check(project, document, held)) == []
    assert list(cross_endpoint.check(project, document, held)) == []


def test_the_rules_report_what_the_index_says(tmp_path):
    project, document = compiled(tmp_path)

    missing = list(handlers.check(project, document, index(tmp_path, Missing("no such module"))))
    mismatch = list(handler_signature.check(project, document, index(tmp_path, function("x"))))

    assert [p.message for p in missing] == ["handler 'nowhere:get_item': no such module"]
    assert len(mismatch) == 1 and "path parameter 'item_id'" in mismatch[0].message
