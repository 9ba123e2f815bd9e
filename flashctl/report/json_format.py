"""JSON report, a stable object (shown in the README under "Output of validate --format json"):

    {"version": 1, "valid": bool, "errors": int, "warnings": int,
     "files": [{"file": str, "valid": bool, "problems": [
        {"file", "line", "column", "rule", "severity", "message", "path": [str|int, ...]}]}]}

`valid` is false when any error is present (warnings alone keep it true; `--strict` decides
the exit code, not this field).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from flashctl.compiler.pipeline import Compiled


def render(results: Sequence[Compiled], color: bool = False) -> str:
    files = [
        {
            "file": r.file,
            "valid": not r.errors,
            "problems": [p.as_dict() for p in sorted(r.problems)],
        }
        for r in results
    ]
    errors = sum(len(r.errors) for r in results)
    total = sum(len(r.problems) for r in results)
    report = {
        "version": 1,
        "valid": errors == 0,
        "errors": errors,
        "warnings": total - errors,
        "files": files,
    }
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
