"""A small CRUD user service (in memory, per worker process)."""

from __future__ import annotations

import itertools
import threading

from flashctl_runtime import HTTPError

_lock = threading.Lock()
_ids = itertools.count(1)
_users: dict[int, dict[str, object]] = {}


def list_users(limit: int = 100) -> list[dict[str, object]]:
    """Users in creation order, at most `limit`."""
    with _lock:
        return list(_users.values())[:limit]


def create_user(name: str, email: str) -> dict[str, object]:
    """Create a user; `email` must contain '@'."""
    if "@" not in email:
        raise ValueError("email must contain '@'")
    with _lock:
        user: dict[str, object] = {"id": next(_ids), "name": name, "email": email}
        _users[int(user["id"])] = user  # type: ignore[call-overload]
        return user


def get_user(user_id: int) -> dict[str, object]:
    """One user by id."""
    with _lock:
        if user_id not in _users:
            raise HTTPError(404, f"user {user_id} not found")
        return _users[user_id]


def update_user(
    user_id: int, name: str | None = None, email: str | None = None
) -> dict[str, object]:
    """Change a user's name and/or email."""
    if email is not None and "@" not in email:
        raise ValueError("email must contain '@'")
    with _lock:
        user = _users.get(user_id)
        if user is None:
            raise HTTPError(404, f"user {user_id} not found")
        if name is not None:
            user["name"] = name
        if email is not None:
            user["email"] = email
        return user


def delete_user(user_id: int) -> dict[str, object]:
    """Delete a user."""
    with _lock:
        if _users.pop(user_id, None) is None:
            raise HTTPError(404, f"user {user_id} not found")
        return {"deleted": user_id}
