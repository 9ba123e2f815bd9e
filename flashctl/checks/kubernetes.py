"""`kubernetes`: the `kubernetes:` block holds values the Kubernetes API accepts. `namespace` is a
DNS-1123 label; `secret_name`, `image_pull_secrets`, `ingress.class_name` and `ingress.tls_secret`
are DNS-1123 subdomains; `node_selector` keys are label keys (`[prefix/]name`) and its values label
values; a toleration with operator Exists has no value, one with Equal has a key, and
`toleration_seconds` needs effect NoExecute; `resources` name real resources with Kubernetes
quantities (500m, 2, 4Gi), requests within limits (GPUs and other extended resources: equal);
`ingress.host` is a host name (no scheme, port or path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flashctl.compiler.document import Document
from flashctl.kubernetes import names, resources
from flashctl.model import Endpoint, Project, Toleration
from flashctl.problems import JsonPath, Problem

ID = "kubernetes"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        yield from _endpoint(endpoint, document)


def _endpoint(endpoint: Endpoint, document: Document) -> Iterator[Problem]:
    k8s = endpoint.kubernetes
    at: JsonPath = ("endpoints", endpoint.key, "kubernetes")

    def named(
        path: JsonPath, value: str | None, rule: Callable[[str], str | None], what: str
    ) -> Iterator[Problem]:
        reason = None if value is None else rule(value)
        if reason is not None:
            yield document.problem((*at, *path), ID, f"{what} '{value}' is not valid: {reason}")

    yield from named(("namespace",), k8s.namespace, names.dns_label, "namespace")
    yield from named(("secret_name",), k8s.secret_name, names.dns_subdomain, "Secret name")
    for i, secret in enumerate(k8s.image_pull_secrets):
        yield from named(("image_pull_secrets", i), secret, names.dns_subdomain, "Secret name")
    ingress = k8s.ingress
    yield from named(("ingress", "host"), ingress.host, names.host, "host")
    yield from named(
        ("ingress", "class_name"), ingress.class_name, names.dns_subdomain, "IngressClass name"
    )
    yield from named(
        ("ingress", "tls_secret"), ingress.tls_secret, names.dns_subdomain, "Secret name"
    )
    for key, value in k8s.node_selector or ():
        path = (*at, "node_selector", key)
        reason = names.qualified_name(key)
        if reason is not None:
            message = f"node label key '{key}' is not valid: {reason}"
            yield document.problem(path, ID, message, at_key=True)
        reason = names.label_value(value)
        if reason is not None:
            yield document.problem(path, ID, f"node label value '{value}' is not valid: {reason}")
    for i, toleration in enumerate(k8s.tolerations or ()):
        yield from _toleration(document, (*at, "tolerations", i), toleration)
    yield from _resources(endpoint, document, (*at, "resources"))


def _toleration(document: Document, at: JsonPath, t: Toleration) -> Iterator[Problem]:
    reason = None if t.key is None else names.qualified_name(t.key)
    if reason is not None:
        yield document.problem((*at, "key"), ID, f"taint key '{t.key}' is not valid: {reason}")
    if t.operator == "Exists" and t.value:
        yield document.problem(
            (*at, "value"),
            ID,
            f"operator Exists matches any value: remove value '{t.value}', or use operator Equal",
        )
    if t.operator == "Equal" and not t.key:
        yield document.problem(
            at, ID, "operator Equal needs a `key`; to tolerate every taint use operator: Exists"
        )
    reason = None if not t.value else names.label_value(t.value)
    if reason is not None:
        yield document.problem(
            (*at, "value"), ID, f"taint value '{t.value}' is not valid: {reason}"
        )
    if t.seconds is not None and t.effect != "NoExecute":
        yield document.problem(
            (*at, "toleration_seconds"),
            ID,
            "toleration_seconds only applies to effect NoExecute: set effect: NoExecute"
            " or remove toleration_seconds",
        )


def _resources(endpoint: Endpoint, document: Document, at: JsonPath) -> Iterator[Problem]:
    given = {"requests": endpoint.kubernetes.requests, "limits": endpoint.kubernetes.limits}
    bad = False
    for kind, pairs in given.items():
        for name, quantity in pairs:
            reason = resources.resource_name(name)
            if reason is not None:
                bad = True
                message = f"'{name}' is not a resource Kubernetes knows: {reason}"
                yield document.problem((*at, kind, name), ID, message, at_key=True)
            if resources.parse_quantity(quantity) is None:
                bad = True
                yield document.problem(
                    (*at, kind, name),
                    ID,
                    f"{kind}.{name} '{quantity}' is not a Kubernetes quantity:"
                    " write e.g. 500m or 2 (CPUs), 512Mi or 4Gi (bytes)",
                )
    if bad:
        return
    for name, reason in resources.conflicts(resources.container_resources(endpoint)):
        # Point at what the user wrote; a derived value has no place in the file.
        kind = "requests" if name in dict(endpoint.kubernetes.requests) else "limits"
        path = (*at, kind, name) if name in dict(given[kind]) else at
        yield document.problem(path, ID, reason)
