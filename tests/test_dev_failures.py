"""`flashctl dev` fails loudly: a busy port, a handler module that raises on import and a startup
hook that fails each end it with exit 1 and one message naming the user's file and line (never
the temp copy dev serves), and leave the port free; a request's exception shows a readable
traceback; several endpoints can import sibling modules inside a handler's body."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, start_interruptible, stop, wait_for_status

ONE = """\
version: 1
project: demo
endpoints:
  api:
    source: ./app
    image: example.com/demo:1
    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}
    runtime: {STARTUP}
    routes:
      - {method: GET, path: /ok, handler: "handlers:ok"}
      - {method: GET, path: /boom, handler: "handlers:boom"}
"""

HANDLERS = """\
def ok():
    return {"ok": True}


def boom():
    return 1 / 0


def load():
    raise RuntimeError("the model file is missing")
"""


def project(tmp_path: Path, handlers: str = HANDLERS, startup: str = "{}") -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handlers.py").write_text(handlers)
    (tmp_path / "flash.yaml").write_text(ONE.replace("{STARTUP}", startup))
    return tmp_path


def start_dev(folder: Path, port: int, *args: str) -> subprocess.Popen[str]:
    return start_interruptible(
        [sys.executable, "-m", "flashctl", "dev", "--port", str(port), *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(dev: subprocess.Popen[str], timeout: float = 60) -> str:
    """What dev wrote, once it has exited on its own (killed after `timeout` seconds)."""
    try:
        output, _ = dev.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        output = stop(dev)
        pytest.fail(f"flashctl dev did not exit by itself:\n{output}")
    return str(output)


def assert_port_free(port: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def assert_readable(output: str) -> None:
    assert "Traceback" not in output, output
    assert "flashctl-dev-" not in output, output  # the temp copy's paths never show
    assert '"event":"startup_failed"' not in output, output


def test_a_handler_module_that_raises_on_import_ends_dev_naming_its_line(tmp_path):
    folder = project(
        tmp_path, "import os\n\nraise RuntimeError('no config: ' + os.sep)\n" + HANDLERS
    )
    port = free_port()

    output = finish(start_dev(folder, port))

    assert "error: the service failed to start: RuntimeError: no config" in output, output
    assert "at app/handlers.py:3 (in <module>)" in output, output
    assert_readable(output)
    assert_port_free(port)


def test_a_failing_startup_hook_ends_dev_naming_its_line(tmp_path):
    folder = project(tmp_path, startup="{startup: 'handlers:load'}")
    port = free_port()

    dev = start_dev(folder, port, "--no-reload")
    output = finish(dev)

    assert dev.returncode == 1, output
    assert "RuntimeError: the model file is missing" in output, output
    assert "at app/handlers.py:10 (in load)" in output, output
    assert_readable(output)
    assert_port_free(port)


def test_a_port_in_use_ends_dev_with_one_message(tmp_path):
    folder = project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        dev = start_dev(folder, port)
        output = finish(dev)

    assert dev.returncode == 1, output
    assert output.strip() == (
        f"error: port {port} on 127.0.0.1 is in use: stop what listens there (another"
        " `flashctl dev`?) or pass --port with a free one"
    )
    assert_port_free(port)


def test_a_request_that_raises_shows_a_readable_traceback_of_the_users_file(tmp_path):
    folder = project(tmp_path)
    port = free_port()
    dev = start_dev(folder, port, "--no-reload")
    try:
        wait_for_status(f"http://127.0.0.1:{port}/ok", 200, process=dev)
        assert httpx.get(f"http://127.0.0.1:{port}/boom").status_code == 500
    finally:
        output = stop(dev)

    assert dev.returncode == 0, output
    assert "Traceback (most recent call last):" in output
    assert 'File "app/handlers.py", line 6, in boom' in output, output
    assert "ZeroDivisionError: division by zero" in output
    assert "flashctl-dev-" not in output  # neither the temp copy nor the runtime's frames
    assert "flashctl_runtime" not in output
    assert '"traceback":' not in output  # the JSON line keeps every field but this one
    assert '"route":"/boom","status":500' in output


SEVERAL = """\
version: 1
project: demo
defaults:
  image: example.com/demo:1
  compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}
endpoints:
  first:
    source: ./one
    routes: [{method: GET, path: /hello, handler: "first:hello"}]
  second:
    source: ./two
    routes: [{method: GET, path: /hello, handler: "second:hello"}]
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_several_endpoints_import_sibling_modules_inside_a_handler(tmp_path):
    (tmp_path / "flash.yaml").write_text(SEVERAL)
    for key, folder in (("first", "one"), ("second", "two")):
        write(
            tmp_path / folder / f"{key}.py",
            f"""\
            import common


            def hello():
                import helper_{key}

                return [helper_{key}.WORD, common.NAME]
            """,
        )
        write(tmp_path / folder / f"helper_{key}.py", f"WORD = 'from helper_{key}'\n")
        write(tmp_path / folder / "common.py", f"NAME = 'common of {key}'\n")
    port = free_port()
    dev = start_dev(tmp_path, port, "--no-reload")
    try:
        wait_for_status(f"http://127.0.0.1:{port}/first/ping", 200, process=dev)
        first = httpx.get(f"http://127.0.0.1:{port}/first/hello")
        second = httpx.get(f"http://127.0.0.1:{port}/second/hello")
    finally:
        output = stop(dev)

    assert (first.status_code, first.json()) == (200, ["from helper_first", "common of first"])
    assert (second.status_code, second.json()) == (200, ["from helper_second", "common of second"])
    assert "different modules of the same name (common)" in output


def test_a_traceback_section_without_user_frames_is_kept_whole_and_paths_are_mapped(tmp_path):
    from flashctl.dev.output import SourceMap, failure_message, readable_traceback

    copy, source = tmp_path / "build" / "api" / "src", tmp_path / "app"
    sources = SourceMap.of({copy: source})
    text = (
        "Traceback (most recent call last):\n"
        f'  File "{tmp_path}/build/api/flashctl_runtime/app.py", line 9, in _serve\n'
        "    result = await call()\n"
        f'  File "{copy}/handlers.py", line 4, in boom\n'
        "    raise KeyError(1)\n"
        "KeyError: 1\n"
        "\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/json/__init__.py", line 2, in dumps\n'
        "    return x\n"
        "TypeError: not JSON\n"
    )

    shown = readable_traceback(text, sources)

    assert "flashctl_runtime" not in shown and str(copy) not in shown
    assert f'  File "{source}/handlers.py", line 4, in boom' in shown
    assert '  File "/usr/lib/python3.11/json/__init__.py", line 2, in dumps' in shown
    assert shown.endswith("TypeError: not JSON")
    syntax = f'  File "{copy}/handlers.py", line 3\n    def f(:\n          ^\nSyntaxError: bad\n'
    assert failure_message(syntax, sources) == (
        f"the service failed to start: SyntaxError: bad\n  at {source}/handlers.py:3"
    )
