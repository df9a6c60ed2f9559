"""What `make demo` and `make test` install, read from make's own plan (`make -n`) for a
virtualenv path of the test's own: the demo only the runtime and the sandbox, the tests
everything plus the Debian tools first, and a changed lock installs again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from devstack.layout import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def make(*args: str) -> subprocess.CompletedProcess:
    # Run as a make of its own, not a sub-make of `make test`.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)


def plan(target: str, venv) -> str:
    result = make("-n", target, f"VENV={venv}")
    assert result.returncode == 0, result.stderr
    return result.stdout


def installs(text: str) -> list[str]:
    """The lock files a plan installs, in order."""
    return [word for line in text.splitlines() if "pip install" in line
            and not line.lstrip().startswith("echo") for word in line.split()
            if word.startswith("requirements")]


def mark(venv, name: str, age: float) -> None:
    """A marker file `age` seconds older (negative: newer) than every lock."""
    path = venv / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    # Older than the oldest lock, or newer than the newest: the locks' own times differ
    # once a pull (or a merge) has brought only one of them.
    times = [(REPO / lock).stat().st_mtime for lock in
             ("requirements.lock", "requirements-sandbox.lock")]
    stamp = (min(times) if age > 0 else max(times)) - age
    os.utime(path, (stamp, stamp))


def test_a_fresh_make_demo_installs_only_the_sandbox_lock(tmp_path):
    assert installs(plan("demo", tmp_path / "venv")) == ["requirements-sandbox.lock"]


def test_a_fresh_make_test_installs_everything_after_checking_the_debian_tools(tmp_path):
    text = plan("test", tmp_path / "venv")
    assert installs(text) == ["requirements.lock"]
    assert text.index("devstack.debian") < text.index("pip install")


def test_current_markers_install_nothing(tmp_path):
    venv = tmp_path / "venv"
    mark(venv, ".installed", age=-60)
    mark(venv, ".installed-demo", age=-60)
    assert installs(plan("demo", venv)) == []
    assert installs(plan("test", venv)) == []


def test_a_changed_lock_installs_again(tmp_path):
    venv = tmp_path / "venv"
    mark(venv, ".installed", age=60)  # older than the locks: a pull brought new ones
    mark(venv, ".installed-demo", age=60)
    assert installs(plan("demo", venv)) == ["requirements-sandbox.lock"]
    assert installs(plan("test", venv)) == ["requirements.lock"]


def test_make_demo_after_make_test_uses_what_the_full_lock_installed(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    mark(venv, ".installed", age=-60)
    result = make(f"VENV={venv}", f"{venv}/.installed-demo")
    assert result.returncode == 0, result.stderr
    assert "covers the demo" in result.stdout and "pip install" not in result.stdout
    assert (venv / ".installed-demo").stat().st_mtime > time.time() - 60
