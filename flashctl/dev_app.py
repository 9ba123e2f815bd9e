"""The ASGI app `flashctl dev` serves when a project has several endpoints: each rendered service
mounted under `/<endpoint>/`, each with its own startup hook and limits.

Each endpoint's handler_service.py is imported in isolation: modules loaded from its `src/` are
taken out of `sys.modules` afterwards, so two endpoints whose code both has a `users.py` do not
share one (the functions keep their own module globals alive).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_service(context: Path, name: str) -> ASGIApp:
    """Import `<context>/handler_service.py` as module `name` and return its `app`."""
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
        if origin.startswith(src):
            del sys.modules[added]
    if src in sys.path:
        sys.path.remove(src)
    app: ASGIApp = module.app
    return app


class Mounted:
    """Dispatch `/<prefix>/...` to one app each; fan lifespan events out to all of them."""

    def __init__(self, apps: dict[str, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
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

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Each child gets its own lifespan conversation, driven by the server's.
        queues = {key: asyncio.Queue[dict[str, Any]]() for key in self.apps}
        replies: asyncio.Queue[tuple[str, MutableMapping[str, Any]]] = asyncio.Queue()

        def child_send(key: str) -> Send:
            async def send_reply(message: MutableMapping[str, Any]) -> None:
                await replies.put((key, message))

            return send_reply

        async def run_child(key: str, app: ASGIApp) -> None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
            await app(scope, queues[key].get, child_send(key))

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
    return Mounted(
        {key: load_service(root / key, f"_flashctl_dev_{key.replace('-', '_')}") for key in keys}
    )
