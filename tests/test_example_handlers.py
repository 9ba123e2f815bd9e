"""The seed example's handler code, tested as plain functions."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "examples" / "seed"))

import cpu_worker
import gpu_worker
import users
from flashctl_runtime import HTTPError


def test_compute_sums_squares():
    assert gpu_worker.compute([1, 2, 3]) == {"count": 3, "sum_of_squares": 14}


def test_compute_rejects_non_numbers():
    with pytest.raises(ValueError):
        gpu_worker.compute([1, "x"])  # type: ignore[list-item]


def test_info_reports_whether_the_startup_hook_ran():
    gpu_worker.load()
    assert gpu_worker.info()["model_loaded"] is True


def test_validate_counts_text_statistics():
    assert cpu_worker.validate("hello world\nbye") == {
        "valid": True,
        "characters": 15,
        "words": 3,
        "lines": 2,
    }
    assert cpu_worker.validate("  ")["valid"] is False


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ("uppercase", "HELLO WORLD"),
        ("lowercase", "hello world"),
        ("reverse", "dlroW olleH"),
        ("title", "Hello World"),
    ],
)
def test_transform_applies_each_operation(operation, expected):
    assert cpu_worker.transform("Hello World", operation) == expected


def test_transform_rejects_an_unknown_operation_with_value_error():
    with pytest.raises(ValueError, match="unknown operation 'shout'"):
        cpu_worker.transform("x", "shout")


def test_users_crud_round_trip():
    created = users.create_user("Ada", "ada@example.com")
    assert users.get_user(created["id"]) == created
    updated = users.update_user(created["id"], name="Ada L.")
    assert updated["name"] == "Ada L."
    assert created in users.list_users()
    assert users.delete_user(created["id"]) == {"deleted": created["id"]}
    with pytest.raises(HTTPError):
        users.get_user(created["id"])


def test_create_user_rejects_a_bad_email():
    with pytest.raises(ValueError):
        users.create_user("x", "no-at-sign")


def test_embed_answers_each_item_of_a_batch_with_a_unit_vector():
    first, second = gpu_worker.embed([{"text": "abc"}, {"text": "hello"}])
    assert isinstance(first, dict) and isinstance(second, dict)
    assert len(first["embedding"]) == gpu_worker.DIMS
    assert abs(sum(v * v for v in first["embedding"]) - 1.0) < 1e-5
    assert first["embedding"] != second["embedding"]
    assert first["batch"] == second["batch"] == 2


def test_embed_fails_only_the_items_without_a_text():
    results = gpu_worker.embed([{"text": "ok"}, {"txt": "typo"}, "just a string"])
    assert isinstance(results[0], dict)
    assert isinstance(results[1], ValueError) and isinstance(results[2], ValueError)
