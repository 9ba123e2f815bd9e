#!/usr/bin/env bash
# System setup for the tests that build and run real images (tests/images): installs buildah,
# skopeo, debootstrap and docker-registry with apt when missing, then makes a local stand-in for
# `docker.io/library/python:3.11-slim` (the rendered Dockerfile's FROM) from Debian packages,
# unless buildah already has an image of that name. Machines without a Docker daemon or without
# access to Docker Hub can then build, run and push flashctl's images with buildah.
#
# Idempotent: a second run changes nothing. Needs root (apt, debootstrap). The stand-in is
# Debian 12's Python 3.11 (about 300 MB), not the official image: good for proving that the
# Dockerfile builds and the image serves, not for measuring the official image's size.
set -euo pipefail

BASE_IMAGE=${FLASHCTL_BASE_IMAGE:-docker.io/library/python:3.11-slim}
SUITE=${FLASHCTL_DEBIAN_SUITE:-bookworm}
MIRROR=${FLASHCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=/etc/ssl/certs/ca-certificates.crt

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if ((${#missing[@]})); then
    echo "container-setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "container-setup: $BASE_IMAGE present" >&2
    exit 0
fi

echo "container-setup: building a stand-in $BASE_IMAGE from Debian $SUITE packages" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/flashctl-base.XXXXXX")
container=""
cleanup() {
    if [[ -n "$container" ]]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
rootfs="$work/rootfs"
# passwd brings useradd, which the rendered Dockerfile runs.
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,passwd \
    "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    echo "container-setup: debootstrap failed" >&2
    exit 1
}
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
# The package registries may sit behind a TLS-intercepting proxy whose CA only the host trusts:
# carry the host's bundle into the image so pip inside a build verifies the same certificates.
if [[ -f "$HOST_CA" ]]; then
    cp "$HOST_CA" "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/cache/apt/"*.bin "$rootfs/var/lib/apt/lists/"*

container=$(buildah from scratch)
buildah copy --quiet "$container" "$rootfs/" / >/dev/null
# /usr/sbin on PATH, or useradd is "not found"; Debian's pip refuses system-wide installs without
# PIP_BREAK_SYSTEM_PACKAGES (the official image's pip has no such marker).
buildah config \
    --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env PIP_BREAK_SYSTEM_PACKAGES=1 \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    --env LANG=C.UTF-8 \
    --cmd python3 "$container"
buildah commit --quiet "$container" "$BASE_IMAGE" >/dev/null
echo "container-setup: $BASE_IMAGE built" >&2
