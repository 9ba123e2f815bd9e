"""A strict reader of the Prometheus text exposition format (version 0.0.4), for the tests.

It enforces the format's rules rather than trusting the runtime: metric and label names, quoted
label values with only the three escapes, one ``# TYPE`` per family before its samples, samples
of a family together, no series twice, and for histograms cumulative buckets ending in
``le="+Inf"`` that equal ``_count``.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float


def _value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def _labels(text: str, line: str) -> tuple[dict[str, str], str]:
    """Parse ``{a="x",b="y"}`` at the start of ``text``; the labels and the rest."""
    labels: dict[str, str] = {}
    assert text[0] == "{"
    i = 1
    while True:
        if text[i] == "}":
            return labels, text[i + 1 :]
        found = LABEL.match(text, i)
        if found is None:
            raise ValueError(f"bad label name in {line!r}")
        name = found.group()
        i = found.end()
        if text[i : i + 2] != '="':
            raise ValueError(f'expected =" after {name} in {line!r}')
        i += 2
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                escaped = text[i + 1]
                if escaped not in '\\"n':
                    raise ValueError(f"bad escape \\{escaped} in {line!r}")
                value.append("\n" if escaped == "n" else escaped)
                i += 2
            elif text[i] == "\n":
                raise ValueError(f"raw newline in a label value: {line!r}")
            else:
                value.append(text[i])
                i += 1
        i += 1
        if name in labels:
            raise ValueError(f"label {name} twice in {line!r}")
        labels[name] = "".join(value)
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise ValueError(f"expected , or }} in {line!r}")


def _family(name: str, types: dict[str, str]) -> str:
    for family, kind in types.items():
        for suffix in SUFFIXES.get(kind, ()):
            if name == family + suffix:
                return family
    return name


def parse(text: str) -> list[Sample]:
    """Every sample in ``text``; ``ValueError`` at the first rule broken."""
    if not text.endswith("\n"):
        raise ValueError("the text must end with a line feed")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: list[Sample] = []
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    finished: set[str] = set()
    current: str | None = None
    for line in text[:-1].split("\n"):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise ValueError(f"bad metric name {name!r}")
                if parts[1] == "TYPE":
                    kind = parts[3] if len(parts) > 3 else ""
                    if kind not in TYPES:
                        raise ValueError(f"unknown type {kind!r}")
                    if name in types or name in finished or name == current:
                        raise ValueError(f"TYPE of {name} after its samples or twice")
                    types[name] = kind
                elif name in helps:
                    raise ValueError(f"HELP of {name} twice")
                else:
                    helps.add(name)
            continue
        found = NAME.match(line)
        if found is None:
            raise ValueError(f"bad sample line {line!r}")
        name, rest = found.group(), line[found.end() :]
        labels: dict[str, str] = {}
        if rest.startswith("{"):
            labels, rest = _labels(rest, line)
        fields = rest.split()
        if not rest.startswith(" ") or len(fields) not in (1, 2):
            raise ValueError(f"bad value in {line!r}")
        family = _family(name, types)
        if family != current:
            if family in finished:
                raise ValueError(f"samples of {family} are not together")
            if current is not None:
                finished.add(current)
            current = family
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError(f"series twice: {line!r}")
        seen.add(key)
        samples.append(Sample(name, labels, _value(fields[0])))
    for family, kind in types.items():
        if kind == "histogram":
            _check_histogram(family, samples)
    return samples


def _check_histogram(family: str, samples: list[Sample]) -> None:
    series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    counts: dict[tuple[tuple[str, str], ...], float] = {}
    for sample in samples:
        if sample.name == family + "_bucket":
            labels = dict(sample.labels)
            le = _value(labels.pop("le"))
            series.setdefault(tuple(sorted(labels.items())), []).append((le, sample.value))
        elif sample.name == family + "_count":
            counts[tuple(sorted(sample.labels.items()))] = sample.value
    for key, buckets in series.items():
        bounds = [le for le, _ in buckets]
        if bounds != sorted(bounds) or bounds[-1] != math.inf:
            raise ValueError(f"{family}{key}: buckets out of order or no +Inf")
        values = [value for _, value in buckets]
        if values != sorted(values):
            raise ValueError(f"{family}{key}: buckets are not cumulative")
        if counts.get(key) != values[-1]:
            raise ValueError(f"{family}{key}: _count differs from the +Inf bucket")


def series(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    """The samples of ``name`` whose labels include ``labels``."""
    return [
        s
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
