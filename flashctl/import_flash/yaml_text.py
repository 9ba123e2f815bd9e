"""The translated document as flash.yaml text: serialized by ruamel (never by string templates),
with a header comment listing what was not translated and a comment naming each endpoint's origin.
"""

from __future__ import annotations

import io
from typing import Any

from flashctl.import_flash.translate import Translation

HEADER = """\
Imported from a runpod-flash project by `flashctl import-flash`. Next:
  flashctl validate && flashctl dev
Each endpoint gets its RunPod name <project>-<endpoint>; the old runpod-flash endpoints are left
as they are. The image: lines are placeholders: CI builds each image from
.flashctl/build/<endpoint>.
The modules may keep importing runpod_flash or tetra_rp: the service gives them a stand-in
whose decorators change nothing (so runpod-flash is not a dependency)."""


def yaml_text(translation: Translation, source_display: str) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    document = _commented(translation.document)
    lines = [f"{HEADER}", ""]
    if translation.notes:
        lines.append(f"Not translated from {source_display} (review these):")
        lines += [f"  - {note}" for note in translation.notes]
    else:
        lines.append(f"Everything in {source_display} was translated.")
    document.yaml_set_start_comment("\n".join(lines))
    endpoints = document["endpoints"]
    assert isinstance(endpoints, CommentedMap)
    for key, origin in translation.origins.items():
        if key in endpoints:
            endpoints.yaml_set_comment_before_after_key(key, before=f"from {origin}", indent=2)
    yaml = YAML()
    yaml.representer.add_representer(type(None), _null)  # `request_timeout: null`, not empty
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # one route per line, however long
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _commented(value: Any, parent: str = "") -> Any:
    """Plain data as ruamel's commented types; routes and CPU entries in flow style, one a line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _commented(item, key)
        if parent in ("routes", "cpu", "workers"):
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(_commented(item, parent) for item in value)
        if parent not in ("routes", "cpu"):
            sequence.fa.set_flow_style()
        return sequence
    return value


def _null(representer: Any, value: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")
