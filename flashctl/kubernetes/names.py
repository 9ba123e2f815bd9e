"""Kubernetes' own name rules, as `validate` and the renderer apply them.

Each function returns None for a good value, else the reason in words a user can act on:

>>> dns_label("ml-serving") is None
True
>>> print(dns_label("ML_Serving"))
use lower-case letters, digits and '-', starting and ending with a letter or digit

The rules follow Kubernetes' apimachinery validation (IsDNS1123Label, IsDNS1123Subdomain,
IsDNS1035Label, IsQualifiedName, IsValidLabelValue).
"""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_LABEL}\Z")
DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*\Z")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
_LOWER = "use lower-case letters, digits and '-', starting and ending with a letter or digit"
_LOWER_1035 = "use lower-case letters, digits and '-', starting with a letter, ending with either"


def dns_label(value: str) -> str | None:
    """A namespace (and most names that end up in a host name): at most 63 characters."""
    if len(value) > LABEL_MAX:
        return f"it is {len(value)} characters, over the limit of {LABEL_MAX}"
    return None if DNS_LABEL.match(value) else _LOWER


def dns_1035_label(value: str) -> str | None:
    """A Service name: a DNS label that starts with a letter."""
    if len(value) > LABEL_MAX:
        return f"it is {len(value)} characters, over the limit of {LABEL_MAX}"
    if DNS_1035_LABEL.match(value):
        return None
    return _LOWER_1035


def dns_subdomain(value: str) -> str | None:
    """Most object names (Secrets, ConfigMaps, IngressClasses): dot-separated DNS labels."""
    if len(value) > SUBDOMAIN_MAX:
        return f"it is {len(value)} characters, over the limit of {SUBDOMAIN_MAX}"
    return None if DNS_SUBDOMAIN.match(value) else _LOWER + " (dots may separate parts)"


def qualified_name(value: str) -> str | None:
    """A label or taint key: `[prefix/]name`, the prefix a DNS subdomain, e.g. nvidia.com/gpu."""
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or dns_subdomain(prefix) is not None):
        return f"the prefix '{prefix}' must be a DNS subdomain such as example.com"
    if len(name) > LABEL_MAX:
        return f"the name part is {len(name)} characters, over the limit of {LABEL_MAX}"
    if not _NAME_PART.match(name):
        return (
            "the name part must be letters, digits, '-', '_' or '.',"
            " starting and ending with a letter or digit"
        )
    return None


def label_value(value: str) -> str | None:
    """A label value (or taint value): empty, or at most 63 of letters, digits, '-', '_', '.'."""
    if len(value) > LABEL_MAX:
        return f"it is {len(value)} characters, over the limit of {LABEL_MAX}"
    if _LABEL_VALUE.match(value):
        return None
    return "use letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def host(value: str) -> str | None:
    """An Ingress host: a DNS name, optionally `*.` for one wildcard label; no scheme, no port."""
    if "://" in value:
        return "write the host name alone, without a scheme (api.example.com, not https://...)"
    if ":" in value or "/" in value:
        return "write the host name alone, without a port or a path"
    name = value[2:] if value.startswith("*.") else value
    if re.fullmatch(r"[0-9.]+", name):
        return "an IP address cannot be an Ingress host; use a DNS name"
    return dns_subdomain(name)
