from service.main import app  # noqa: F401
