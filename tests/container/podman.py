"""Podman for the container tests: find it, build the image, run a server container.

The image is `examples/Containerfile` built on a Debian bookworm base image made from a
debootstrap rootfs by `.ci/podman.sh` (no registry is reachable), with wheels of
toxbridge and its dependencies downloaded on the host and `podman build --network
none`. Dependency wheels are cached per pyproject.toml; the image is tagged with a hash
of the wheels, so a second run with unchanged sources builds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
BASE_IMAGE = os.environ.get("TOXBRIDGE_BASE_IMAGE", "localhost/toxbridge-base:bookworm")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "toxbridge-container"
EXTRA_WHEELS = ("pytest",)  # tox envs in the container install it from /wheels, offline


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)},
    )


def unavailable_reason() -> str | None:
    """Why podman cannot run here, or None. On CI a missing podman is a failure, not a skip."""
    if os.environ.get("TOXBRIDGE_SKIP_PODMAN", "") not in ("", "0"):
        return "TOXBRIDGE_SKIP_PODMAN is set"
    if shutil.which("podman") is None:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            raise AssertionError("podman is missing on CI: run .ci/podman.sh first")
        return "podman is not installed (run .ci/podman.sh as root to set it up)"
    return None


def ensure_base_image() -> None:
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        subprocess.run(["bash", str(ROOT / ".ci" / "podman.sh")], check=True, timeout=900)


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        capture_output=True,
        timeout=600,
    )


def build_context(into: Path) -> Path:
    """A build context: the Containerfile and wheels of toxbridge, its deps and pytest."""
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    deps = CACHE / f"deps-{hashlib.sha256(pyproject).hexdigest()[:16]}"
    if not deps.is_dir():
        partial = deps.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _pip("wheel", "-w", str(partial), str(ROOT), *EXTRA_WHEELS)
        for own in partial.glob("toxbridge-*.whl"):
            own.unlink()
        partial.rename(deps)
    wheels = into / "wheels"
    shutil.copytree(deps, wheels)
    _pip("wheel", "--no-deps", "-w", str(wheels), str(ROOT))
    shutil.copy(ROOT / "examples" / "Containerfile", into / "Containerfile")
    return into


def image_for(context: Path) -> str:
    digest = hashlib.sha256((context / "Containerfile").read_bytes())
    for wheel in sorted((context / "wheels").iterdir()):
        digest.update(wheel.name.encode())
        digest.update(hashlib.sha256(wheel.read_bytes()).digest())
    tag = f"localhost/toxbridge-test:{digest.hexdigest()[:16]}"
    if podman("image", "exists", tag, check=False).returncode != 0:
        podman(
            "build",
            "--network",
            "none",
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "-t",
            tag,
            str(context),
            timeout=600,
        )
    return tag
