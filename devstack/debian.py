"""The Debian packages the test suite needs beside the Python ones: Chromium for the
browser test and promtool (package `prometheus`) for the alert rules.

`make test` runs `python3 -m devstack.debian` first. What is missing is installed when
it can be (root, with apt-get: `apt-get update` once, then the packages), as CI does;
otherwise it names the packages and exits 1 before any test runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def chromium_present() -> bool:
    # The browser tests launch this path (tests/e2e/conftest.py), not whatever is on PATH.
    return Path(os.environ.get("E2E_CHROMIUM") or "/usr/bin/chromium").exists()


def promtool_present() -> bool:
    return shutil.which("promtool") is not None


# What the tests run → (how to tell it is there, the Debian package that brings it).
NEEDED: dict[str, tuple[Callable[[], bool], str]] = {
    "chromium": (chromium_present, "chromium"),
    "promtool": (promtool_present, "prometheus"),
}


def missing_packages() -> list[str]:
    return sorted({package for present, package in NEEDED.values() if not present()})


def ensure(*, is_root: bool | None = None, apt_get: str | None = None,
           run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
           say: Callable[[str], None] = print) -> int:
    """0 once every package is there (installing what it can), 1 with what to do."""
    packages = missing_packages()
    if not packages:
        return 0
    is_root = os.geteuid() == 0 if is_root is None else is_root
    apt_get = apt_get or shutil.which("apt-get")
    listing = " ".join(packages)
    if not (is_root and apt_get):
        why = "not root" if apt_get else "no apt-get on this machine"
        say(f"make test needs the Debian package(s) {listing} (browser test: chromium; "
            f"alert rules: promtool from prometheus), and cannot install them here ({why}).")
        say(f"Install them first, e.g.: sudo apt-get install -y {listing}")
        return 1
    say(f"installing the Debian package(s) the tests need: {listing}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([apt_get, "update", "-qq"],
                 [apt_get, "install", "-y", "-qq", "--no-install-recommends", *packages]):
        if run(argv, env=env, stdin=subprocess.DEVNULL).returncode != 0:
            say(f"`{' '.join(argv)}` failed; install {listing} by hand and run make test again")
            return 1
    still = missing_packages()
    if still:
        say(f"installed {listing}, yet {' '.join(still)} is still missing")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(ensure())
