"""flashctl: declarative deployment of HTTP APIs on RunPod serverless load-balanced endpoints."""

__version__ = "0.1.0"
