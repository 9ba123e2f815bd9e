"""``import runpod_flash`` and ``import tetra_rp`` inside a flashctl service: the names exist, the
decorators hand back the user's own function or class, and nothing reaches the network.

Code written for runpod-flash (or tetra-rp before it) decorates its handlers with
``@remote(resource, method=..., path=...)``, ``@Endpoint(...)`` or ``@api.get(...)`` on resource
objects (``LiveLoadBalancer(...)``, ``GpuGroup.ADA_24``, ...). The real packages turn those
handlers into clients that run them on RunPod; inside the endpoint that serves them they must
run right here. ``install()`` (called by every generated ``handler_service.py`` before it
imports the user's code) puts a finder first on ``sys.meta_path`` that answers for those two
top-level names only, so:

- a project that never imports them is untouched (the finder is asked about nothing else);
- a real runpod-flash or tetra-rp installed beside it is shadowed in the service, on purpose:
  its decorators would send every call back out to RunPod.

The names themselves live in ``stand_in``, imported only when one of the two is.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

MODULES = ("runpod_flash", "tetra_rp")


class _Loader:  # the Loader protocol, without importlib.abc's import cost
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        from . import stand_in

        for name in stand_in.EXPORTS:
            setattr(module, name, getattr(stand_in, name))
        module.__all__ = list(stand_in.EXPORTS)  # type: ignore[attr-defined]
        module.__doc__ = f"flashctl's stand-in for {module.__name__} (flashctl_runtime.compat)."


class Finder:  # the MetaPathFinder protocol
    """Finds ``runpod_flash`` and ``tetra_rp`` (the stand-in), and nothing else."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        loader: Any = _Loader()  # typeshed's LoaderProtocol also wants the deprecated load_module
        return importlib.util.spec_from_loader(fullname, loader, origin="flashctl_runtime")


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once); ``runpod_flash`` or ``tetra_rp``
    imported before this call are replaced."""
    if not any(isinstance(finder, Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, Finder())
    for name in MODULES:
        module = sys.modules.get(name)
        if module is not None and not isinstance(getattr(module, "__loader__", None), _Loader):
            del sys.modules[name]
