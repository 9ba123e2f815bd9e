"""What `flashctl render|plan|apply --target kubernetes` run below the CLI."""

from __future__ import annotations

import os

import pytest

from flashctl.errors import DeployError, RenderError
from flashctl.kubernetes import flows as commands
from tests.kubernetes.conftest import CPU, fake_kubectl, load_example


def test_render_writes_one_yaml_file_per_endpoint_and_nothing_else(tmp_path):
    out = tmp_path / "k8s"
    files = commands.render_to(load_example(), out)
    assert sorted(p.name for p in out.iterdir()) == [
        ".flashctl-manifest",  # not read by `kubectl apply -f` (neither .yaml nor .json)
        "cpu.yaml",
        "gpu.yaml",
        "users.yaml",
    ]
    assert all((out / name).read_bytes() == data for name, data in files.items())


def test_check_reports_a_stale_or_extra_file_and_nothing_when_up_to_date(tmp_path):
    out = tmp_path / "k8s"
    commands.render_to(load_example(), out)
    assert commands.check_rendered(load_example(), out) == []
    (out / "gpu.yaml").write_text("edited by hand\n")
    (out / "old.yaml").write_text("---\n")
    assert commands.check_rendered(load_example(), out) == [
        "changed: gpu.yaml",
        "extra:   old.yaml",
    ]


def test_a_failed_render_leaves_the_previous_output_untouched(tmp_path, make_project):
    out = tmp_path / "k8s"
    commands.render_to(load_example(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = make_project(CPU.replace("        image: registry.example.com/shop/api:2.0.1\n", ""))
    with pytest.raises(RenderError):
        commands.render_to(broken, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_plan_and_apply_run_kubectl_on_a_fresh_render(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = fake_kubectl(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert commands.plan(load_example()) == "deployment.apps/x configured\n"
    assert commands.apply(load_example()) == "deployment.apps/x configured\n"
    calls = [line for line in log.read_text().splitlines() if line.startswith("apply ")]
    assert calls[0].startswith("apply --dry-run=client -f ")
    assert calls[1].startswith("apply -f ") and "--dry-run" not in calls[1]


def test_rollouts_share_one_deadline_and_a_spent_one_still_looks_once(monkeypatch, tmp_path):
    log = fake_kubectl(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    now = iter([100.0, 100.0, 130.4, 170.0])  # the deadline is 160
    said = list(commands.rollouts(load_example(), timeout=60, clock=lambda: next(now)))
    assert said == [
        f'deployment "seed-{e}" successfully rolled out\n' for e in ("gpu", "cpu", "users")
    ]
    assert log.read_text().splitlines() == [
        "rollout status deployment/seed-gpu --timeout=60s",
        "rollout status deployment/seed-cpu --timeout=30s",
        "rollout status deployment/seed-users --timeout=1s",
    ]


def test_the_wait_stops_at_the_first_deployment_that_does_not_roll_out(monkeypatch, tmp_path):
    log = fake_kubectl(tmp_path, rollout_fails="seed-cpu")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    said = commands.rollouts(load_example(), timeout=60)
    assert next(said) == 'deployment "seed-gpu" successfully rolled out\n'
    with pytest.raises(DeployError, match="endpoint 'cpu': deployment/seed-cpu did not roll out"):
        next(said)
    assert len(log.read_text().splitlines()) == 2  # seed-users was not waited for
