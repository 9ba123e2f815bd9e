"""Class-based handlers (``handler: "model:Model.generate"``): one instance per worker process.

``Method(Model, "generate")`` stands in a ``Route`` for the bound method ``instance.generate``.
It is planned like a function without ``self`` (binding, call style), and the service creates
the instance during start-up, before ``/ping`` turns 200: ``Model()`` in the thread pool, then
its ``setup()`` if it has one (``async def setup`` awaited on the loop, a plain one in the pool).
Routes naming the same class share its one instance. Until then (or if it fails) routes get 503,
as they do while a ``startup`` hook runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from .threads import ThreadPool


class Method:
    """A method of a class the service instantiates once; called like the bound method."""

    def __init__(self, cls: type, name: str) -> None:
        function = inspect.getattr_static(cls, name, None)
        if isinstance(function, (staticmethod, classmethod)) or not inspect.isfunction(function):
            raise ValueError(f"{cls.__qualname__}.{name} is not a method defined with def")
        self.cls = cls
        self.name = name
        self.function = function
        self.bound: Any = None  # the instance's bound method, set by create_instances
        # what binding and the docs read: the method's signature without `self`
        parameters = list(inspect.signature(function).parameters.values())[1:]
        self.__signature__ = inspect.signature(function).replace(parameters=parameters)
        self.__wrapped__ = function  # typing.get_type_hints reads the module's globals here
        self.__annotations__ = {
            k: v for k, v in getattr(function, "__annotations__", {}).items() if k != "self"
        }
        self.__name__ = name
        self.__qualname__ = f"{cls.__qualname__}.{name}"
        self.__doc__ = function.__doc__
        self.__module__ = cls.__module__

    def __call__(self, **kwargs: Any) -> Any:
        if self.bound is None:  # never reached through the service: it answers 503 until ready
            raise RuntimeError(f"{self.__qualname__}: the instance is not created yet")
        return self.bound(**kwargs)

    def __repr__(self) -> str:
        return f"Method({self.__qualname__})"


async def create_instances(methods: Iterable[Method], threads: ThreadPool) -> None:
    """One instance per class (in the order routes name them), its ``setup`` run, its methods
    bound. An exception from ``__init__`` or ``setup`` propagates: start-up has failed."""
    by_class: dict[type, list[Method]] = {}
    for method in methods:
        by_class.setdefault(method.cls, []).append(method)
    for cls, bound in by_class.items():
        instance = await threads.run(cls)
        setup = getattr(instance, "setup", None)
        if callable(setup):
            if inspect.iscoroutinefunction(setup):
                await setup()
            else:
                result = await threads.run(setup)
                if inspect.isawaitable(result):
                    await result
        for method in bound:
            method.bound = getattr(instance, method.name)
