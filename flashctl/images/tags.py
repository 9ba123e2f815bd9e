"""Image names and tags, pure.

An endpoint with `image:` keeps it. Without one, `registry:` names it
`<registry>/<project>-<endpoint>:<tag>`, the tag a digest of the endpoint's rendered build context
(every path and byte of it, sources included) and of the platform: the same input gives the same
tag on every machine and at any time, a changed handler a new one. Such a tag is immutable, so an
image already tagged with it (locally or in the registry) is never built or pushed again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from typing import NamedTuple

from flashctl.model import Endpoint, Project

# A reference an engine takes as one argument, never as an option: no leading '-', no spaces.
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
TAG_PREFIX = "fc-"
TAG_HEX = 20  # 80 bits of the sha256: collisions are not a practical concern


class ImageName(NamedTuple):
    """Where an endpoint's image goes. `derived`: flashctl chose the tag from the content."""

    ref: str  # host[:port]/path:tag, or path:tag for a local-only image
    derived: bool

    @property
    def registry(self) -> str | None:
        """The registry host[:port], or None for a name without one (local or Docker Hub)."""
        first, sep, _ = self.ref.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            return first
        return None

    @property
    def repository(self) -> str:
        """The path inside the registry, without host and tag."""
        rest = self.ref[len(self.registry) + 1 :] if self.registry else self.ref
        return split_tag(rest)[0]

    @property
    def tag(self) -> str:
        return split_tag(self.ref)[1]


def split_tag(ref: str) -> tuple[str, str]:
    """`name:tag` -> (name, tag); a name without a tag means `latest`.

    >>> split_tag("127.0.0.1:5000/seed-cpu:fc-1"), split_tag("127.0.0.1:5000/seed-cpu")
    (('127.0.0.1:5000/seed-cpu', 'fc-1'), ('127.0.0.1:5000/seed-cpu', 'latest'))
    """
    name, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return ref, "latest"


def context_digest(files: Mapping[str, bytes], platform: str) -> str:
    """sha256 over one build context's sorted paths and contents, and the target platform."""
    digest = hashlib.sha256(f"platform={platform}\0".encode())
    for path in sorted(files):
        data = files[path]
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def context_files(files: Mapping[str, bytes], endpoint: str) -> dict[str, bytes]:
    """One endpoint's context out of a render's `{path: bytes}` (paths relative to it)."""
    prefix = f"{endpoint}/"
    return {path[len(prefix) :]: data for path, data in files.items() if path.startswith(prefix)}


def image_name(project: Project, endpoint: Endpoint, digest: str) -> ImageName:
    """The endpoint's image: its `image:`, else `<registry>/<project>-<endpoint>:<tag>`, else
    `<project>-<endpoint>:<tag>` (local only: building works, pushing needs a registry)."""
    if endpoint.image:
        return ImageName(endpoint.image, derived=False)
    tag = TAG_PREFIX + digest[:TAG_HEX]
    repository = f"{project.name}-{endpoint.key}"
    if endpoint.registry:
        return ImageName(f"{endpoint.registry}/{repository}:{tag}", derived=True)
    return ImageName(f"{repository}:{tag}", derived=True)


def is_loopback(registry: str) -> bool:
    """A registry on this machine, reached over plain HTTP (as docker allows by default).

    >>> [is_loopback(r) for r in ("127.0.0.1:5000", "localhost:5000", "[::1]:5000", "ghcr.io")]
    [True, True, True, False]
    """
    host = registry.split("/", 1)[0]
    if host.startswith("["):
        host = host[1 : host.find("]")]
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
