"""What ``import runpod_flash`` / ``import tetra_rp`` give inside a flashctl service (see
``compat``, which loads this module only when the user's code imports one of them).

The enum members are RunPod's catalog (kept equal to ``flashctl/catalog.py`` by a test: this
package must not import flashctl in the image); a member this copy does not list still
resolves, so a GPU RunPod adds later does not stop the service from starting.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

# RunPod's catalog as flashctl/catalog.py has it (tests/test_compat.py keeps them equal).
GPU_POOLS = (
    "ADA_24", "ADA_32_PRO", "ADA_48_PRO", "ADA_80_PRO", "AMPERE_16", "AMPERE_24", "AMPERE_48",
    "AMPERE_80", "HOPPER_141", "BLACKWELL_96", "BLACKWELL_180",
)  # fmt: skip
GPU_TYPES = (
    "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 5090", "NVIDIA RTX 6000 Ada Generation",
    "NVIDIA L40", "NVIDIA L40S", "NVIDIA H100 PCIe", "NVIDIA H100 80GB HBM3", "NVIDIA H100 NVL",
    "NVIDIA RTX A4000", "NVIDIA RTX A4500", "NVIDIA RTX 4000 Ada Generation",
    "NVIDIA RTX 2000 Ada Generation", "NVIDIA RTX A5000", "NVIDIA L4", "NVIDIA GeForce RTX 3090",
    "NVIDIA A40", "NVIDIA RTX A6000", "NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB",
    "NVIDIA H200", "NVIDIA RTX PRO 6000 Blackwell Server Edition",
    "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
    "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "NVIDIA B200",
)  # fmt: skip
CPU_RAM_GB_PER_VCPU = {"cpu3c": 2, "cpu3g": 4, "cpu5c": 2, "cpu5g": 4}
CPU_VCPUS = (1, 2, 4, 8, 16, 32)  # runpod-flash also names 1-vCPU instances (CPU3C_1_2)
DATA_CENTERS = (
    "AP-JP-1", "CA-MTL-1", "CA-MTL-2", "CA-MTL-3", "EU-CZ-1", "EU-FR-1", "EU-NL-1", "EU-RO-1",
    "EU-SE-1", "EUR-IS-1", "EUR-IS-2", "EUR-IS-3", "EUR-NO-1", "OC-AU-1", "US-CA-2", "US-DE-1",
    "US-GA-1", "US-GA-2", "US-IL-1", "US-KS-2", "US-KS-3", "US-NC-1", "US-TX-1", "US-TX-3",
    "US-TX-4", "US-WA-1",
)  # fmt: skip
CUDA_VERSIONS = ("11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8")


def member_name(value: str) -> str:
    """``"NVIDIA GeForce RTX 4090"`` -> ``"NVIDIA_GEFORCE_RTX_4090"``, runpod-flash's spelling."""
    return re.sub(r"[^A-Z0-9]+", "_", value.upper()).strip("_")


# --- enums ------------------------------------------------------------------------------------


class Member(str):
    """One enum member: the string of its value (runpod-flash accepts either), with a name."""

    name: str

    def __new__(cls, name: str, value: str) -> Member:
        member = super().__new__(cls, value)
        member.name = name
        return member

    @property
    def value(self) -> str:
        return str(self)


class _Names(type):
    """An enum-like class: members as attributes, iteration, lookup by value, and any other
    upper-case name as a member of its own (see the module's docstring)."""

    _members: dict[str, Member]

    def __getattr__(cls, name: str) -> Member:
        if name.startswith("_"):
            raise AttributeError(name)
        return cls._members.setdefault(name, Member(name, name))

    def __iter__(cls) -> Iterator[Member]:
        return iter(list(cls._members.values()))

    def __len__(cls) -> int:
        return len(cls._members)

    def __call__(cls, value: Any) -> Member:  # GpuType("NVIDIA L4"), CpuInstanceType("cpu3c-1-2")
        text = str(value)
        for member in cls._members.values():
            if text in (member.value, member.name):
                return member
        return cls._members.setdefault(member_name(text), Member(member_name(text), text))


def _enum(name: str, members: dict[str, str]) -> type:
    return _Names(name, (), {"_members": {k: Member(k, v) for k, v in members.items()}})


GpuGroup = _enum("GpuGroup", {"ANY": "any", **{pool: pool for pool in GPU_POOLS}})
GpuType = _enum("GpuType", {"ANY": "any", **{member_name(t): t for t in GPU_TYPES}})
CpuInstanceType = _enum(
    "CpuInstanceType",
    {
        f"{flavor.upper()}_{vcpus}_{vcpus * ram}": f"{flavor}-{vcpus}-{vcpus * ram}"
        for flavor, ram in CPU_RAM_GB_PER_VCPU.items()
        for vcpus in CPU_VCPUS
    },
)
DataCenter = _enum("DataCenter", {member_name(dc): dc for dc in DATA_CENTERS})
CudaVersion = _enum("CudaVersion", {"V" + v.replace(".", "_"): v for v in CUDA_VERSIONS})
ServerlessScalerType = _enum(
    "ServerlessScalerType", {"QUEUE_DELAY": "QUEUE_DELAY", "REQUEST_COUNT": "REQUEST_COUNT"}
)
ServerlessType = _enum("ServerlessType", {"QB": "QB", "LB": "LB"})


# --- decorators and resources ---------------------------------------------------------------


class NotServedHere(RuntimeError):
    """A call runpod-flash would make to RunPod: the compatibility layer never makes one."""


def _keep(target: Any) -> Any:
    return target


def _is_target(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value)


def remote(*args: Any, **options: Any) -> Any:
    """``@remote(resource, method="POST", path="/x", dependencies=[...])``: the function or
    class itself, unchanged (also written bare, ``@remote``)."""
    if len(args) == 1 and not options and _is_target(args[0]):
        return args[0]
    return _keep


class Resource:
    """A resource object (``LiveLoadBalancer(name=..., gpus=[...])``): takes any arguments and
    keeps them readable as attributes; deploys nothing."""

    def __init__(self, *args: Any, **options: Any) -> None:
        if args and "name" not in options:
            options["name"] = args[0]
        self.__dict__["options"] = options

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["options"][name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no {name!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.__dict__['options'].get('name')!r})"


def _resource(name: str) -> type[Resource]:
    return type(name, (Resource,), {"__doc__": Resource.__doc__})


LiveLoadBalancer = _resource("LiveLoadBalancer")
CpuLiveLoadBalancer = _resource("CpuLiveLoadBalancer")
LoadBalancerSlsResource = _resource("LoadBalancerSlsResource")
CpuLoadBalancerSlsResource = _resource("CpuLoadBalancerSlsResource")
LiveServerless = _resource("LiveServerless")
CpuLiveServerless = _resource("CpuLiveServerless")
ServerlessEndpoint = _resource("ServerlessEndpoint")
CpuServerlessEndpoint = _resource("CpuServerlessEndpoint")
NetworkVolume = _resource("NetworkVolume")
PodTemplate = _resource("PodTemplate")
ResourceManager = _resource("ResourceManager")
FlashApp = _resource("FlashApp")
EndpointJob = _resource("EndpointJob")
DEFAULT_WORKERS_MIN, DEFAULT_WORKERS_MAX = 0, 1


class Endpoint(Resource):
    """``api = Endpoint(name=..., gpu=...)`` with ``@api.get("/x")`` routes, or
    ``@Endpoint(name=...)`` on a function or class: each hands the target back unchanged.

    ``Endpoint(id=...)`` and ``Endpoint(image=...)`` are clients of another RunPod endpoint;
    their calls (``.post(path, data)``, ``.run(...)``) raise ``NotServedHere``.
    """

    @property
    def is_client(self) -> bool:
        options = self.__dict__["options"]
        return options.get("id") is not None or options.get("image") is not None

    def __call__(self, target: Any) -> Any:
        return target

    def _route(self, method: str, path: str) -> Any:
        if self.is_client:
            self._refuse(f"{method.lower()}({path!r}, ...)")
        return _keep

    def _refuse(self, call: str) -> None:
        raise NotServedHere(
            f"{self!r}.{call} would call another RunPod endpoint over the network; flashctl "
            "serves this code itself and makes no such call: call that endpoint's URL with an "
            "HTTP client (requests, httpx) instead"
        )

    def get(self, path: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
        return self._route("GET", path)

    def post(self, path: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
        return self._route("POST", path)

    def put(self, path: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
        return self._route("PUT", path)

    def delete(self, path: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
        return self._route("DELETE", path)

    def patch(self, path: str, *args: Any, **kw: Any) -> Callable[[Any], Any]:
        return self._route("PATCH", path)

    def run(self, *args: Any, **kw: Any) -> Any:
        self._refuse("run(...)")

    def runsync(self, *args: Any, **kw: Any) -> Any:
        self._refuse("runsync(...)")

    def status(self, *args: Any, **kw: Any) -> Any:
        self._refuse("status(...)")


EXPORTS = (
    "remote", "Endpoint", "EndpointJob", "CpuInstanceType", "CpuLiveLoadBalancer",
    "CpuLiveServerless", "CpuLoadBalancerSlsResource", "CpuServerlessEndpoint", "CudaVersion",
    "DataCenter", "GpuGroup", "GpuType", "LiveLoadBalancer", "LiveServerless",
    "LoadBalancerSlsResource", "NetworkVolume", "PodTemplate", "ResourceManager",
    "ServerlessEndpoint", "ServerlessScalerType", "ServerlessType", "FlashApp",
    "DEFAULT_WORKERS_MIN", "DEFAULT_WORKERS_MAX",
)  # fmt: skip
