"""scripts/stack.py is a command line over devstack: its run directory and ports come
from flags or STACK_* variables, it needs nothing but the standard library, and a stack
on a private layout never touches the shared var/ of `make up`. The bench drives the same
Stack with a layout of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.common import BenchStack
from devstack import SandboxClient, free_port, sandbox_base_urls
from devstack.http import probe
from devstack.layout import REPO

# The connection and layout variables the suite itself runs with must not leak in.
OURS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "BROKER_FOLDER", "FILE_CACHE_DIR",
        "DJANGO_SETTINGS_MODULE", "STACK_MODE", "STACK_RUN_DIR", "STACK_WEB_PORT",
        "STACK_SANDBOX_PORT", "SANDBOX_WEBHOOK_URL", *sandbox_base_urls(""))


def clean_environ(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in OURS}, **extra}


def stack_cli(*args: str, env: dict[str, str] | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess:
    # -S: no site-packages at all, so any import beyond the standard library fails.
    return subprocess.run([sys.executable, "-S", "scripts/stack.py", *args], cwd=REPO,
                          env=env or clean_environ(), capture_output=True, text=True,
                          timeout=timeout)


def env_lines(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line
                and not line.startswith("#"))


def test_flags_choose_the_run_directory_and_ports_with_the_standard_library_alone(tmp_path):
    result = stack_cli("--run-dir", str(tmp_path), "--web-port", "18010",
                       "--sandbox-port", "18910", "env", "--mode", "embedded")
    assert result.returncode == 0, result.stderr
    env = env_lines(result.stdout)
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert env["BROKER_FOLDER"] == str(tmp_path / "broker")
    assert env["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:18010/webhooks/token-service"
    assert env["ISSUER_BASE_URL"] == "http://127.0.0.1:18910/issuer"


def test_stack_variables_give_the_same_layout_as_the_flags(tmp_path):
    by_flags = stack_cli("--run-dir", str(tmp_path), "--web-port", "18011",
                         "--sandbox-port", "18911", "env", "--mode", "embedded")
    by_env = stack_cli("env", "--mode", "embedded", env=clean_environ(
        STACK_RUN_DIR=str(tmp_path), STACK_WEB_PORT="18011", STACK_SANDBOX_PORT="18911"))
    assert env_lines(by_flags.stdout) == env_lines(by_env.stdout)


def test_without_flags_the_stack_is_the_shared_one_on_8000_and_8900():
    env = env_lines(stack_cli("env", "--mode", "embedded").stdout)
    assert env["DATABASE_URL"] == f"sqlite:///{REPO / 'var' / 'db.sqlite3'}"
    assert env["TELCO_BASE_URL"] == "http://127.0.0.1:8900/telco"
    assert env["SANDBOX_WEBHOOK_URL"] == "http://127.0.0.1:8000/webhooks/token-service"


def test_the_bench_stack_is_a_devstack_stack_on_a_layout_of_its_own():
    stack = BenchStack("layout-check", {"DATABASE_URL": "postgres://postgres@127.0.0.1/pp_bench"})
    assert stack.stack.layout is stack.layout
    assert stack.layout.run_dir == REPO / "var" / "bench" / "layout-check"
    assert {stack.web_port, stack.sandbox_port}.isdisjoint({8000, 8900})
    assert stack.env["TOKEN_SERVICE_BASE_URL"] == f"{stack.sandbox_url}/tms"
    assert stack.stack.environ["DATABASE_URL"].endswith("/pp_bench")


@pytest.mark.integration
def test_a_stack_on_a_private_layout_goes_up_survives_a_worker_kill_and_goes_down(tmp_path):
    """The whole CLI, embedded mode, in a run directory of its own: nothing under var/run."""
    web, sandbox = free_port(), free_port()
    layout = ("--run-dir", str(tmp_path), "--web-port", str(web), "--sandbox-port", str(sandbox))
    shared_pids = sorted((REPO / "var" / "run").glob("*.pid"))

    def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return stack_cli(*layout, *args, timeout=timeout)

    up = cli("up", "--mode", "embedded")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"--run-dir {tmp_path} --web-port {web} --sandbox-port {sandbox} down" in up.stdout
        assert cli("status").returncode == 0
        assert probe(f"http://127.0.0.1:{web}/readyz")[0] == 200
        assert SandboxClient(f"http://127.0.0.1:{sandbox}").stats()["calls"]
        worker_env = (tmp_path / "run" / "worker.pid").read_text().split()[0]
        environ = open(f"/proc/{worker_env}/environ", "rb").read().split(b"\0")
        assert f"ISSUER_BASE_URL=http://127.0.0.1:{sandbox}/issuer".encode() in environ

        assert cli("kill-worker").returncode == 0
        assert cli("status").returncode == 1  # partly running
        restarted = cli("restart-worker")
        assert restarted.returncode == 0 and "worker ready" in restarted.stdout
        assert cli("status").returncode == 0
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stdout
    assert cli("status").returncode == 3
    assert sorted((REPO / "var" / "run").glob("*.pid")) == shared_pids
    assert not list((tmp_path / "run").glob("*.pid"))
