"""What of a source folder reaches a build context: no credentials, what .dockerignore allows, no
link followed out of the source, no special file opened, sizes bounded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flashctl.render import source_copy
from flashctl.render.source_copy import Limits, source_files
from tests.test_render_output import make_project, snapshot

CANARY = "canary-secret-4f1d2c"
CREDENTIALS = [
    ".env",
    ".env.production",
    ".envrc",
    "id_rsa",
    "keys/id_ed25519",
    "server.pem",
    "tls/server.key",
    ".ssh/config",
    ".aws/credentials",
    ".runpod/config.toml",
    ".npmrc",
    ".netrc",
    ".pypirc",
    ".docker/config.json",
    ".kube/config",
    "kubeconfig.yaml",
    "terraform.tfstate",
    "terraform.tfstate.backup",
    "secrets.json",
    "nested/deep/.env",
    ".git/config",
]


def built(root: Path) -> dict[str, bytes]:
    return source_copy.read_tree(root / ".flashctl" / "build")


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_credential_file_is_left_out_and_listed(run_cli, tmp_path, name):
    path = make_project(tmp_path)
    secret = tmp_path / "app" / name
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(CANARY)
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 0, result
    files = built(tmp_path)
    assert "api/src/handlers.py" in files
    assert not [p for p, data in files.items() if CANARY.encode() in data]
    if not name.startswith(".git/"):  # version control data is left out silently
        assert "left out of api: " in result.stderr and "(credentials)" in result.stderr


def test_staging_folders_left_by_older_renders_are_not_copied(tmp_path):
    (tmp_path / "app.py").write_text("X = 1\n")
    for name in (".build.rendering-abc123", ".build.old-4242"):
        (tmp_path / name / "api").mkdir(parents=True)
        (tmp_path / name / "api" / "Dockerfile").write_text("FROM scratch\n")
    copy = source_files(tmp_path)
    assert sorted(copy.files) == ["app.py"] and copy.left_out == []


def test_public_ssh_keys_and_look_alike_names_are_copied(tmp_path):
    for name in ("id_rsa.pub", "id_utils.py", "environment.py", "keys.py", "env/settings.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    copy = source_files(tmp_path)
    assert sorted(copy.files) == [
        "env/settings.py",
        "environment.py",
        "id_rsa.pub",
        "id_utils.py",
        "keys.py",
    ]


def test_the_sources_dockerignore_is_applied_and_can_take_a_file_back(run_cli, tmp_path):
    path = make_project(tmp_path)
    app = tmp_path / "app"
    (app / "data").mkdir()
    (app / "data" / "big.bin").write_bytes(b"\0" * 10)
    (app / "data" / "labels.txt").write_text("a\nb\n")
    (app / "notes.md").write_text("notes")
    (app / "certs").mkdir()
    (app / "certs" / "ca.pem").write_text("PUBLIC CA")
    (app / "certs" / "client.pem").write_text(CANARY)
    (app / ".dockerignore").write_text(
        "# mine\ndata\n!data/labels.txt\n*.md\n!certs/ca.pem\n", encoding="utf-8"
    )
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 0, result
    sources = sorted(p for p in built(tmp_path) if p.startswith("api/src/"))
    assert sources == [
        "api/src/.dockerignore",
        "api/src/certs/ca.pem",
        "api/src/data/labels.txt",
        "api/src/handlers.py",
    ]
    assert "data/big.bin (.dockerignore)" in result.stderr
    assert "notes.md (.dockerignore)" in result.stderr
    assert "certs/client.pem (credentials)" in result.stderr


def test_a_dockerignore_exception_cannot_bring_in_flashctls_own_folder(tmp_path):
    (tmp_path / ".flashctl" / "build").mkdir(parents=True)
    (tmp_path / ".flashctl" / "build" / "manifest.json").write_text("{}")
    (tmp_path / ".dockerignore").write_text("!.flashctl\n!**\n")
    assert sorted(source_files(tmp_path).files) == [".dockerignore"]


# --- links and special files ---------------------------------------------------------------


def test_links_out_of_the_source_are_never_followed(run_cli, tmp_path):
    path = make_project(tmp_path / "project")
    app = tmp_path / "project" / "app"
    (tmp_path / "outside-secret.txt").write_text(CANARY)
    (app / "hostname").symlink_to("/etc/hostname")
    (app / "secret.txt").symlink_to("../../outside-secret.txt")
    (app / "zero").symlink_to("/dev/zero")
    (app / "up").symlink_to("..")
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 0, result
    files = built(tmp_path / "project")
    assert not [p for p in files if p.split("/")[-1] in ("hostname", "secret.txt", "zero", "up")]
    assert not [p for p, data in files.items() if CANARY.encode() in data]
    for name in ("hostname", "secret.txt", "zero", "up"):
        assert f"{name} (symbolic link to outside the source)" in result.stderr


def test_links_inside_the_source_are_copied_as_their_target_unless_it_is_left_out(tmp_path):
    (tmp_path / "real.py").write_text("X = 1\n")
    (tmp_path / "alias.py").symlink_to("real.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("Y = 2\n")
    (tmp_path / "pkg_alias").symlink_to("pkg")
    (tmp_path / ".env").write_text(CANARY)
    (tmp_path / "settings.txt").symlink_to(".env")
    (tmp_path / "loop").symlink_to(".")
    copy = source_files(tmp_path)
    assert copy.files == {
        "alias.py": b"X = 1\n",
        "pkg/mod.py": b"Y = 2\n",
        "pkg_alias/mod.py": b"Y = 2\n",
        "real.py": b"X = 1\n",
    }
    assert dict(copy.left_out) == {
        ".env": "credentials",
        "loop": "symbolic link loop",
        "settings.txt": "symbolic link to .env (credentials)",
    }


def test_broken_links_loops_fifos_and_sockets_are_left_out_without_blocking(tmp_path):
    path = make_project(tmp_path)
    app = tmp_path / "app"
    (app / "dangling").symlink_to("missing.txt")
    (app / "a").symlink_to("b")
    (app / "b").symlink_to("a")
    os.mkfifo(app / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(app / "sock"))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "flashctl", "render", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for listed in (
        "dangling (broken symbolic link)",
        "a (symbolic link loop or unreadable target)",
        "pipe (not a regular file)",
        "sock (not a regular file)",
    ):
        assert listed in result.stderr
    sources = sorted(p for p in built(tmp_path) if p.startswith("api/src/"))
    assert sources == ["api/src/handlers.py"]


def test_an_unreadable_file_fails_the_render_and_writes_nothing(run_cli, tmp_path, monkeypatch):
    path = make_project(tmp_path)
    (tmp_path / "app" / "locked.py").write_text("X = 1\n")
    real_open = os.open

    def refusing_open(file, flags, *args, **kwargs):  # as for another user's 0600 file
        if str(file).endswith("locked.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 1
    assert "locked.py: cannot read: Permission denied" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".flashctl").exists()


# --- sizes ---------------------------------------------------------------------------------


def test_a_huge_sparse_file_is_refused_by_name_and_nothing_is_written(run_cli, tmp_path):
    path = make_project(tmp_path)
    with open(tmp_path / "app" / "disk.img", "wb") as stream:
        stream.truncate(2 * 2**30)  # 2 GiB, no block written
    before = snapshot(tmp_path)
    result = run_cli("render", "-f", str(path))
    assert result.exit_code == 1
    assert "disk.img: 2.0 GiB is over the limit of 100.0 MiB per file" in result.stderr
    assert "--max-file-size" in result.stderr
    assert not (tmp_path / ".flashctl").exists() and snapshot(tmp_path) == before


def test_the_size_limits_can_be_changed(run_cli, tmp_path):
    path = make_project(tmp_path)
    (tmp_path / "app" / "a.bin").write_bytes(b"a" * 3000)
    (tmp_path / "app" / "b.bin").write_bytes(b"b" * 3000)
    result = run_cli("render", "-f", str(path), "--max-file-size", "2KiB")
    assert result.exit_code == 1 and "a.bin: 2.9 KiB is over the limit" in result.stderr
    result = run_cli("render", "-f", str(path), "--max-context-size", "5KiB")
    assert result.exit_code == 1 and "over the limit of 5.0 KiB per build context" in result.stderr
    assert run_cli("render", "-f", str(path), "--max-context-size", "1MiB").exit_code == 0
    result = run_cli("render", "-f", str(path), "--max-file-size", "lots")
    assert result.exit_code == 2 and "is not a size" in result.stderr


def test_the_default_limits_are_100_mib_per_file_and_500_mib_per_context():
    assert Limits() == Limits(file=100 * 2**20, context=500 * 2**20)
