"""B7: the example's images, built with buildah: size over the base, build time cold and warm,
cold start in the image against the same command as a plain process.

    python bench/b7_images.py [--runs 5] [--check]

Needs buildah and a `python:3.11-slim` in its store (`scripts/container-setup.sh`). Works on a
copy of flash.yaml.example without `image:` (local names `seed-<endpoint>:fc-<digest>`):
- size: each image's size against its base (its uncompressed layers, `skopeo inspect --raw`);
  the stand-in base is Debian's Python, so the delta, not the total, is the number to read;
- cold build: `buildah bud --no-cache` with the arguments `flashctl build` uses, per endpoint
  (pip downloads through the network: noisy);
- warm rebuild: `flashctl build cpu` after appending a function to the cpu handler module
  (dependency layers from the cache, the source layer rebuilt), median of `--runs`;
- cold start: from `buildah run` (container created beforehand, as a runtime pulls first) to the
  first `GET /ping` 200, against the image's command as a plain process from the rendered context
  compiled to bytecode, on the dev venv's Python; medians over `--runs`, round-robin.
Targets: <= 25 MB over the base for the CPU endpoints; warm rebuild < 10 s; cold start <= 1.2x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import contenders

ROOT = Path(__file__).resolve().parents[1]
BASE = "docker.io/library/python:3.11-slim"
CPU_ENDPOINTS = ("cpu", "users")


def sh(*argv: str, timeout: float = 1800) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True).stdout


def flashctl(file: Path, *args: str) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flashctl", "-f", str(file), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return time.perf_counter() - began, done.stdout


def project(workdir: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "seed", workdir / "examples" / "seed")
    text = "".join(
        line
        for line in (ROOT / "flash.yaml.example").read_text().splitlines(keepends=True)
        if not line.startswith(("    image: ", "  registry: "))
    )
    (workdir / "flash.yaml").write_text(text)
    return workdir / "flash.yaml"


def size(ref: str) -> int:
    """Bytes of the image's layers, uncompressed, as the local store keeps them."""
    qualified = ref if "/" in ref else f"localhost/{ref}"  # how buildah stores a bare name
    manifest = json.loads(sh("skopeo", "inspect", "--raw", f"containers-storage:{qualified}"))
    return sum(int(layer["size"]) for layer in manifest["layers"])


def render(file: Path, out: Path) -> Path:
    from flashctl.compiler.pipeline import load_valid_project
    from flashctl.render.flows import render_to

    render_to(load_valid_project(file, variables={}, environment=None), out)
    return out


def cold_builds(file: Path, workdir: Path) -> dict[str, float]:
    from flashctl.images.engines import Engine

    out = render(file, workdir / "contexts")
    engine = Engine("buildah", shutil.which("buildah") or "buildah")
    seconds = {}
    for key in ("gpu", "cpu", "users"):
        argv = engine.build_command(
            out / key, f"b7-cold-{key}:1", "linux/amd64", base_is_local=True
        )
        began = time.perf_counter()
        sh(*argv[:2], "--no-cache", *argv[2:])
        seconds[key] = time.perf_counter() - began
        sh("buildah", "rmi", f"b7-cold-{key}:1")
    return seconds


def start_image(ref: str, port: int) -> tuple[float, str]:
    config = json.loads(sh("buildah", "inspect", "--type", "image", ref))["OCIv1"]["config"]
    container = sh("buildah", "from", "--pull-never", ref).strip()
    env = {
        **dict(e.split("=", 1) for e in config["Env"]),
        "PORT": str(port),
        "PORT_HEALTH": str(port),
    }
    argv = ["buildah", "run", "--isolation", "chroot", "--network", "host", "--user", "1000"]
    argv += [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]
    began = time.perf_counter()
    process = subprocess.Popen(
        [*argv, container, "--", *config["Cmd"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        contenders.wait_ready(process, port, timeout=60)
        return time.perf_counter() - began, container
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        sh("buildah", "rm", container)


def run_overhead(ref: str) -> float:
    """Seconds `buildah run` takes for `true` in the image: the engine's own setup."""
    container = sh("buildah", "from", "--pull-never", ref).strip()
    try:
        began = time.perf_counter()
        sh("buildah", "run", "--isolation", "chroot", "--network", "host", container, "--", "true")
        return time.perf_counter() - began
    finally:
        sh("buildah", "rm", container)


def start_plain(context: Path, port: int) -> float:
    command = contenders.dockerfile_command(context)
    env = {**os.environ, **contenders.dockerfile_env(context), "PORT": str(port)}
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *command[1:]],
        cwd=context,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        contenders.wait_ready(process, port, timeout=60)
        return time.perf_counter() - began
    finally:
        contenders.stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flashctl-b7-") as tmp:
        workdir = Path(tmp)
        file = project(workdir)
        _, out = flashctl(file, "build")
        images = dict(line.split(": ", 1) for line in out.splitlines())
        base = size(BASE)
        sizes = {key: size(ref) - base for key, ref in images.items()}
        cold = cold_builds(file, workdir)
        handler = workdir / "examples" / "seed" / "cpu_worker.py"
        warm, refs = [], set(images.values())
        for run in range(args.runs):
            handler.write_text(handler.read_text() + f"\n\ndef edited_{run}():\n    return {run}\n")
            seconds, out = flashctl(file, "build", "cpu")
            warm.append(seconds)
            cpu_ref = out.split(": ", 1)[1].strip()
            refs.add(cpu_ref)
        context = render(file, workdir / "contexts") / "cpu"  # what the last image holds
        sh(sys.executable, "-m", "compileall", "-q", str(context))
        image_s, plain_s, overhead_s = [], [], []
        for _ in range(args.runs):
            image_s.append(start_image(cpu_ref, contenders.free_port())[0])
            plain_s.append(start_plain(context, contenders.free_port()))
            overhead_s.append(run_overhead(cpu_ref))
        sh("buildah", "rmi", *refs)
    mb = 1_000_000
    ratio = statistics.median(image_s) / statistics.median(plain_s)
    warm_median = statistics.median(warm)
    over = max(sizes[key] for key in CPU_ENDPOINTS) / mb
    print(
        f"B7 size over base: {', '.join(f'{k} {v / mb:.1f} MB' for k, v in sizes.items())};"
        f" cold build {', '.join(f'{k} {v:.1f} s' for k, v in cold.items())};"
        f" warm rebuild {warm_median:.1f} s; cold start image {statistics.median(image_s):.2f} s"
        f" vs plain {statistics.median(plain_s):.2f} s ({ratio:.2f}x)"
    )
    print(f"base {BASE}: {base / mb:.0f} MB (stand-in: Debian's Python 3.11)")
    print(f"warm rebuilds (s): {', '.join(f'{s:.1f}' for s in warm)}")
    print(f"image cold starts (s): {', '.join(f'{s:.2f}' for s in image_s)}")
    print(f"plain cold starts (s): {', '.join(f'{s:.2f}' for s in plain_s)}")
    overhead = statistics.median(overhead_s)
    print(
        f"buildah run of `true` (engine setup, s): {', '.join(f'{s:.2f}' for s in overhead_s)};"
        f" image start without it: {statistics.median(image_s) - overhead:.2f} s"
        f" ({(statistics.median(image_s) - overhead) / statistics.median(plain_s):.2f}x plain)"
    )
    met = over <= 25 and warm_median < 10 and ratio <= 1.2
    print(
        f"targets: CPU images <= 25 MB over base ({over:.1f}), warm < 10 s, start <= 1.2x: "
        f"{'met' if met else 'missed'}"
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
