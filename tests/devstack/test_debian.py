"""`make test` brings in Debian's chromium and prometheus (promtool) when they are missing
and it can (root, apt-get), or names them and stops before any test runs. apt-get is
played by a script that records its calls and "installs" what it is asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import debian
from devstack.layout import REPO

FAKE_APT = """#!/bin/sh
echo "$*" >> "$APT_CALLS"
if [ "$1" = install ]; then
    for package in "$@"; do
        case "$package" in
            chromium) touch "$E2E_CHROMIUM" ;;
            prometheus) printf '#!/bin/sh\\n' > "$TOOLS/promtool"; chmod +x "$TOOLS/promtool" ;;
        esac
    done
fi
"""


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A PATH with apt-get and no promtool; a chromium path that does not exist yet."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "apt-get").write_text(FAKE_APT)
    (tools / "apt-get").chmod(0o755)
    for name in ("sh", "touch", "printf", "chmod"):
        (tools / name).symlink_to(f"/bin/{name}" if Path(f"/bin/{name}").exists()
                                  else f"/usr/bin/{name}")
    env = {"PATH": str(tools), "TOOLS": str(tools), "APT_CALLS": str(tmp_path / "calls"),
           "E2E_CHROMIUM": str(tmp_path / "chromium")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def calls(machine) -> list[str]:
    path = Path(machine["APT_CALLS"])
    return path.read_text().splitlines() if path.exists() else []


def test_as_root_the_missing_packages_are_installed_after_one_update(machine):
    said: list[str] = []
    assert debian.ensure(is_root=True, say=said.append) == 0, said
    assert calls(machine) == ["update -qq",
                              "install -y -qq --no-install-recommends chromium prometheus"]
    assert debian.missing_packages() == []


def test_nothing_is_installed_when_everything_is_there(machine):
    Path(machine["E2E_CHROMIUM"]).touch()
    promtool = Path(machine["TOOLS"]) / "promtool"
    promtool.write_text("#!/bin/sh\n")
    promtool.chmod(0o755)
    result = subprocess.run([sys.executable, "-m", "devstack.debian"], cwd=REPO, env=machine,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, calls(machine)) == (0, "", [])


def test_without_root_it_names_the_packages_and_fails_before_anything_runs(machine):
    said: list[str] = []
    assert debian.ensure(is_root=False, say=said.append) == 1
    assert calls(machine) == []
    assert "sudo apt-get install -y chromium prometheus" in said[-1]
    assert "not root" in said[0]


def test_a_failed_install_fails_with_what_to_do(machine):
    said: list[str] = []
    failed = lambda argv, **kwargs: subprocess.CompletedProcess(argv, 100)  # noqa: E731
    assert debian.ensure(is_root=True, run=failed, say=said.append) == 1
    assert "install chromium prometheus by hand" in said[-1]
    assert os.path.exists(machine["E2E_CHROMIUM"]) is False
