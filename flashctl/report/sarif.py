"""SARIF 2.1.0, for GitHub code scanning (`github/codeql-action/upload-sarif`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from flashctl import __version__
from flashctl.checks import rule_docs
from flashctl.compiler.pipeline import Compiled

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(results: Sequence[Compiled], color: bool = False) -> str:
    docs = rule_docs()
    rules = [
        {
            "id": rule,
            "shortDescription": {"text": text.split("\n")[0]},
            "fullDescription": {"text": text},
        }
        for rule, text in sorted(docs.items())
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    findings = [
        {
            "ruleId": p.rule,
            "ruleIndex": index[p.rule],
            "level": p.severity,
            "message": {"text": p.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": p.file},
                        "region": {"startLine": p.line, "startColumn": p.column},
                    }
                }
            ],
        }
        for r in results
        for p in sorted(r.problems)
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "flashctl",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": findings,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
