"""`flashctl build [ENDPOINT...] [--push]`, and the images `plan/apply --build` deploy.

Render (in memory, then into a temporary folder the engine reads), name each endpoint's image
(`tags.py`), then per endpoint: with `push`, nothing at all when the registry already has a
content-derived tag; else build unless the engine's store has it, then push. An explicit
`image:` tag says nothing about its content, so it is always built (the engine's layer cache
makes an unchanged build quick) and pushed. Endpoints go one after another: one engine build
at a time is all a laptop or a CI runner has cores for, and the output stays readable.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from flashctl.compiler.pipeline import Load, Loaded
from flashctl.console import Console
from flashctl.errors import ExitCode, ImageError, UsageError
from flashctl.images import registry
from flashctl.images.engines import Engine, error_lines, find_engine, run_streamed
from flashctl.images.tags import (
    REFERENCE,
    ImageName,
    context_digest,
    context_files,
    image_name,
    is_loopback,
)
from flashctl.model import Endpoint, Project
from flashctl.render.flows import render_loaded, render_to

DEFAULT_PLATFORM = "linux/amd64"  # RunPod runs x86-64 machines
Log = Callable[[str], None]


class BuildOptions(NamedTuple):
    endpoints: tuple[str, ...] = ()  # empty: every endpoint
    push: bool = False
    engine: str = "auto"
    platform: str = DEFAULT_PLATFORM


class Built(NamedTuple):
    endpoint: str
    image: str
    built: bool  # False: the tag was in the engine's store already
    pushed: bool | None  # None: no push asked; False: the registry had it (nothing built either)

    def summary(self) -> str:
        if self.pushed is False:
            return f"{self.endpoint}: {self.image}  already in the registry (not built or pushed)"
        what = ["built" if self.built else "up to date (not rebuilt)"]
        if self.pushed:
            what.append("pushed")
        return f"{self.endpoint}: {self.image}  {', '.join(what)}"


def selected_endpoints(project: Project, keys: Sequence[str]) -> list[Endpoint]:
    known = [e.key for e in project.endpoints]
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise UsageError(
            f"no endpoint {', '.join(repr(k) for k in unknown)} in {project.file};"
            f" endpoints: {', '.join(known)}"
        )
    return [e for e in project.endpoints if not keys or e.key in keys]


def image_names(
    project: Project, files: Mapping[str, bytes], platform: str
) -> dict[str, ImageName]:
    """Each endpoint's image name, from a render's files."""
    return {
        e.key: image_name(project, e, context_digest(context_files(files, e.key), platform))
        for e in project.endpoints
    }


def planned_images(loaded: Loaded, platform: str = DEFAULT_PLATFORM) -> dict[str, ImageName]:
    """The images `apply --build` would deploy, without building anything (`plan --build`)."""
    return image_names(loaded.project, render_loaded(loaded), platform)


def with_images(loaded: Loaded, images: Mapping[str, str]) -> Loaded:
    """`loaded` with each listed endpoint's `image` set: what plan and apply then deploy."""
    endpoints = tuple(
        e._replace(image=images[e.key]) if e.key in images else e for e in loaded.project.endpoints
    )
    return loaded._replace(project=loaded.project._replace(endpoints=endpoints))


def built_project(loaded: Loaded, options: BuildOptions, log: Log) -> Loaded:
    """`apply --build`: build and push every endpoint's image; `loaded` deploying them."""
    built = build_images(loaded, options._replace(endpoints=(), push=True), log)
    return with_images(loaded, {b.endpoint: b.image for b in built})


def planned_project(loaded: Loaded, options: BuildOptions, log: Log) -> Loaded:
    """`plan --build`: `loaded` deploying the images `apply --build` would build (none built)."""
    _require_registries(loaded.project, loaded.project.endpoints)
    names = planned_images(loaded, options.platform)
    for key, name in names.items():
        if name.derived:
            log(f"{key}: would deploy {name.ref} (not built or pushed: `apply --build` does)")
    return with_images(loaded, {key: name.ref for key, name in names.items()})


def build_images(loaded: Loaded, options: BuildOptions, log: Log) -> list[Built]:
    """Build (and with `push`, push) the selected endpoints' images; `log` gets the engine's
    output and progress. Stops at the first failure with an ImageError naming the endpoint."""
    project = loaded.project
    endpoints = selected_endpoints(project, options.endpoints)
    _check_references(project, endpoints)
    if options.push:
        _require_registries(project, endpoints)
    engine = find_engine(options.engine)
    log(f"engine: {engine.name} ({engine.executable}), platform {options.platform}")
    results = []
    with tempfile.TemporaryDirectory(prefix="flashctl-build-") as tmp:
        output = Path(tmp) / "build"
        files = render_to(loaded, output).files
        names = image_names(project, files, options.platform)
        base_local: dict[str, bool] = {}
        for endpoint in endpoints:
            name = names[endpoint.key]
            if options.push and name.derived and registry.has_tag(name) is True:
                # Another machine built and pushed this very content: nothing to do here.
                results.append(Built(endpoint.key, name.ref, built=False, pushed=False))
                log(results[-1].summary())
                continue
            if endpoint.base_image not in base_local:
                base_local[endpoint.base_image] = engine.has_image(endpoint.base_image)
            built = _build(
                engine,
                endpoint.key,
                output / endpoint.key,
                name,
                options.platform,
                base_is_local=base_local[endpoint.base_image],
                log=log,
            )
            pushed = _push(engine, endpoint.key, name, log) if options.push else None
            results.append(Built(endpoint.key, name.ref, built, pushed))
            log(results[-1].summary())
    return results


def _check_references(project: Project, endpoints: Sequence[Endpoint]) -> None:
    bad = [e for e in endpoints if e.image and not REFERENCE.match(e.image)]
    if bad:
        raise ImageError(
            "not an image reference: "
            + ", ".join(f"endpoint '{e.key}' image {e.image!r}" for e in bad)
            + f" in {project.file} (expected host/name:tag)"
        )


def _require_registries(project: Project, endpoints: Sequence[Endpoint]) -> None:
    nowhere = [e.key for e in endpoints if not e.image and not e.registry]
    if nowhere:
        raise ImageError(
            "nowhere to push "
            + ", ".join(f"endpoint '{key}'" for key in nowhere)
            + f": set `registry:` (in defaults: or per endpoint) or `image:` in {project.file}"
        )


def _build(
    engine: Engine,
    key: str,
    context: Path,
    name: ImageName,
    platform: str,
    *,
    base_is_local: bool,
    log: Log,
) -> bool:
    if name.derived and engine.has_image(name.ref):
        return False
    log(f"{key}: building {name.ref}")
    argv = engine.build_command(context, name.ref, platform, base_is_local=base_is_local)
    code, tail = run_streamed(argv, lambda line: log(f"{key} | {line}"))
    if code != 0:
        raise _failure(f"building endpoint '{key}' ({name.ref}) with {engine.name}", code, tail)
    return True


def _push(engine: Engine, key: str, name: ImageName, log: Log) -> bool:
    log(f"{key}: pushing {name.ref}")
    plain_http = name.registry is not None and is_loopback(name.registry)
    code, tail = run_streamed(
        engine.push_command(name.ref, plain_http=plain_http), lambda line: log(f"{key} | {line}")
    )
    if code != 0:
        raise _failure(f"pushing endpoint '{key}' ({name.ref}) with {engine.name}", code, tail)
    return True


def _failure(what: str, code: int, tail: Sequence[str]) -> ImageError:
    quoted = "\n".join(f"  {line}" for line in error_lines(tail))
    return ImageError(f"{what} failed (exit {code}):\n{quoted}")


def run_build(load: Load, console: Console, options: BuildOptions) -> ExitCode:
    """`flashctl build`: build (and push) the images, then `endpoint: image` per endpoint."""
    for result in build_images(load(), options, console.progress):
        console.out(f"{result.endpoint}: {result.image}\n")
    return ExitCode.OK
