"""The two ways a RunPod call fails: the API answered with an error, or it could not be reached.

Both are DeployErrors (exit code 1). Their messages name the action ("creating endpoint 'api'"),
the HTTP status or the URL, and RunPod's own `detail` and `errors`, so the user can act on them.
"""

from __future__ import annotations

from collections.abc import Sequence

from flashctl.errors import DeployError


class RunPodAPIError(DeployError):
    """RunPod answered with an error status (an `application/problem+json` body, usually).

    >>> str(RunPodAPIError("POST", "/v2/serverless", 400, action="creating endpoint 'x'",
    ...                    endpoint_name="x", detail="gpu and cpu are mutually exclusive"))
    "RunPod rejected creating endpoint 'x' (400): gpu and cpu are mutually exclusive"
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        *,
        action: str,
        endpoint_name: str | None = None,
        title: str = "",
        detail: str = "",
        errors: Sequence[str] = (),
        key_source: str | None = None,
        attempts: int = 1,
        note: str = "",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.action = action
        self.endpoint_name = endpoint_name
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.key_source = key_source
        self.attempts = attempts
        self.note = note
        super().__init__(self._message())

    def _message(self) -> str:
        said = self.detail or self.title or "no detail given"
        if self.status == 401:
            source = f"from {self.key_source}" if self.key_source else "in use"
            head = (
                f"RunPod rejected the API key {source} (401) while {self.action}: {said}. "
                "Check that the key is current and has access to serverless endpoints."
            )
        elif self.status >= 500 or self.status == 429:
            tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
            head = f"RunPod failed {self.action} ({self.status}){tries}: {said}"
        else:
            head = f"RunPod rejected {self.action} ({self.status}): {said}"
        lines = [head, *(f"  - {error}" for error in self.errors)]
        return "\n".join([*lines, self.note] if self.note else lines)


class RunPodConnectionError(DeployError):
    """No usable HTTP response: refused, timed out, or the connection dropped mid-response."""

    def __init__(
        self, url: str, reason: str, *, action: str, attempts: int, note: str = ""
    ) -> None:
        self.url = url
        self.reason = reason
        self.action = action
        self.attempts = attempts
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        message = (
            f"Could not reach the RunPod API at {url} while {action}: {reason}{tries}. "
            "Check the network, or FLASHCTL_API_URL / --api-url if you point flashctl elsewhere."
        )
        super().__init__(f"{message}\n{note}" if note else message)
