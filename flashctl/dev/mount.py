"""The ASGI app `flashctl dev` serves when a project has several endpoints: each rendered service
mounted under `/<endpoint>/`, each with its own startup hook and limits.

Every endpoint's `src/` stays on `sys.path`, so a handler that imports a sibling module inside its
body finds it; a module that is the same file in several endpoints (as when they share a
`source:`) is one module, shared by them in dev. A top-level module that two endpoints' sources
both have with different contents (each its own `users.py`) is loaded in isolation instead: taken
out of `sys.modules` after each endpoint's handler_service.py is imported, so each endpoint keeps
its own (the functions keep their module globals alive). Such a module imported inside a body is
the last endpoint's: dev says so when it starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_service(context: Path, name: str, isolated: frozenset[str] = frozenset()) -> ASGIApp:
    """Import `<context>/handler_service.py` as module `name` and return its `app`; modules of
    its `src/` named in `isolated` (top-level names) are taken out of `sys.modules` afterwards."""
    src = str(context / "src")
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(name, context / "handler_service.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {context / 'handler_service.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for added in set(sys.modules) - before:
        origin = getattr(sys.modules[added], "__file__", None) or ""
        if added.partition(".")[0] in isolated and origin.startswith(src):
            del sys.modules[added]
    app: ASGIApp = module.app
    return app


def top_level_modules(src: Path) -> dict[str, str]:
    """Each top-level module or package of `src` with a digest of its files."""
    found: dict[str, str] = {}
    for path in sorted(src.iterdir()) if src.is_dir() else []:
        if path.suffix == ".py":
            found[path.stem] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir() and path.name.isidentifier():
            digest = hashlib.sha256()
            for file in sorted(path.rglob("*.py")):
                digest.update(file.relative_to(path).as_posix().encode() + b"\0")
                digest.update(file.read_bytes())
            found[path.name] = digest.hexdigest()
    return found


def conflicting_modules(sources: list[Path]) -> frozenset[str]:
    """The top-level module names that more than one of `sources` has, with different files."""
    seen: dict[str, set[str]] = {}
    for src in sources:
        for module, digest in top_level_modules(src).items():
            seen.setdefault(module, set()).add(digest)
    return frozenset(module for module, digests in seen.items() if len(digests) > 1)


class Mounted:
    """Dispatch `/<prefix>/...` to one app each; fan lifespan events out to all of them."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path: str = scope["path"]
        prefix = path.lstrip("/").partition("/")[0]
        app = self.apps.get(prefix)
        if app is None:
            await _not_found(scope, send, sorted(self.apps))
            return
        # Starlette's convention for mounts: the full path stays, root_path names the mount.
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + "/" + prefix
        await app(child, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Each child gets its own lifespan conversation, driven by the server's. They share the
        # server's `state`: the server copies it into every request, so what an app's lifespan
        # stores there (a FastAPI lifespan yielding a dict) reaches its requests.
        state = scope.get("state")
        queues = {key: asyncio.Queue[dict[str, Any]]() for key in self.apps}
        replies: asyncio.Queue[tuple[str, MutableMapping[str, Any]]] = asyncio.Queue()

        def child_send(key: str) -> Send:
            async def send_reply(message: MutableMapping[str, Any]) -> None:
                await replies.put((key, message))

            return send_reply

        async def run_child(key: str, app: ASGIApp) -> None:
            child = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
            if state is None:
                del child["state"]
            await app(child, queues[key].get, child_send(key))

        tasks = [asyncio.create_task(run_child(key, app)) for key, app in self.apps.items()]
        while True:
            message = await receive()
            for queue in queues.values():
                await queue.put(dict(message))
            phase = message["type"].rsplit(".", 1)[-1]  # startup | shutdown
            failed = None
            for _ in self.apps:
                key, reply = await replies.get()
                if reply["type"].endswith(".failed"):
                    failed = f"{key}: {reply.get('message', '')}"
            if failed:
                await send({"type": f"lifespan.{phase}.failed", "message": failed})
            else:
                await send({"type": f"lifespan.{phase}.complete"})
            if phase == "shutdown":
                break
        await asyncio.gather(*tasks, return_exceptions=True)


async def _not_found(scope: Scope, send: Send, prefixes: list[str]) -> None:
    import json

    body = json.dumps(
        {"detail": f"no endpoint here: paths start with /{', /'.join(prefixes)}"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def compose(root: Path, keys: list[str]) -> Mounted:
    """The dev app over the rendered contexts `root/<key>/`."""
    isolated = conflicting_modules([root / key / "src" for key in keys])
    if isolated:
        names = ", ".join(sorted(isolated))
        print(
            f"flashctl dev: endpoints have different modules of the same name ({names}); each"
            f" endpoint's handlers get their own, but one imported inside a function gets the"
            f" '{keys[-1]}' endpoint's",
            file=sys.stderr,
        )
    apps = {}
    for key in keys:
        name = f"_flashctl_dev_{key.replace('-', '_')}"
        apps[key] = load_service(root / key, name, isolated)
    return Mounted(apps)
