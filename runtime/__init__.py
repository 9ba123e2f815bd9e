"""flashctl_runtime: the small library a service rendered by flashctl runs on.

>>> from flashctl_runtime import Route, Settings, HTTPError, create_app
>>> app = create_app([Route("POST", "/add", add)], Settings(title="calc"))
"""

from starlette.datastructures import UploadFile

from .app import Service, create_app
from .batching import Batch
from .errors import HTTPError
from .instances import Method
from .routes import Route
from .settings import Settings

__all__ = [
    "Batch",
    "HTTPError",
    "Method",
    "Route",
    "Service",
    "Settings",
    "UploadFile",
    "create_app",
]
