"""devstack.Process on real child processes: its own group and log, readiness, stop with
grace then SIGKILL, kill -9 of the whole group, restart, and pid files that only count
for our own processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from devstack import DeadlinePassed, Process, ProcessExited
from devstack.processes import group_alive, logs_line

# A leader that ignores SIGTERM and starts a grandchild in its group, then says so.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(f"child {child.pid} started", flush=True)
time.sleep(120)
"""
POLITE = "import time; print('serving', flush=True); time.sleep(120)"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.fixture
def started(tmp_path):
    processes: list[Process] = []

    def start(name: str, code: str, **options) -> Process:
        process = Process(name, python(code), tmp_path / f"{name}.log", **options)
        processes.append(process.start(append=False))
        return process

    yield start
    for process in processes:
        process.kill()


def test_a_process_runs_in_a_group_of_its_own_with_its_pid_file_and_log(started, tmp_path):
    process = started("polite", POLITE, pid_path=tmp_path / "polite.pid",
                      ready=logs_line("serving"))
    process.wait_ready(timeout=20)
    assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    assert (tmp_path / "polite.pid").read_text().strip() == str(process.pid)
    assert "serving" in process.log_since_start()
    assert process.stop(grace=10)
    assert not group_alive(process.pid) and not (tmp_path / "polite.pid").exists()


def test_stop_sigkills_a_group_that_ignores_sigterm_after_the_grace(started):
    process = started("stubborn", STUBBORN, ready=logs_line(r"child \d+ started"))
    process.wait_ready(timeout=20)
    began = time.monotonic()
    assert process.stop(grace=1.0)
    assert time.monotonic() - began >= 1.0
    assert not group_alive(process.pid)


def test_kill_takes_the_whole_group_down_at_once(started):
    process = started("stubborn", STUBBORN, ready=logs_line(r"child \d+ started"))
    process.wait_ready(timeout=20)
    grandchild = int(process.log_since_start().split()[1])
    assert os.getpgid(grandchild) == process.pid
    assert process.kill()
    assert process.popen.returncode == -signal.SIGKILL
    assert not group_alive(process.pid)  # the grandchild included


def test_restart_keeps_the_log_and_readiness_reads_only_the_new_start(started):
    process = started("polite", POLITE, ready=logs_line("serving"))
    process.wait_ready(timeout=20)
    first = process.pid
    process.restart(grace=10)
    assert process.pid != first
    process.wait_ready(timeout=20)
    assert process.log_since_start().splitlines() == ["serving"]
    assert process.log_path.read_text().splitlines().count("serving") == 2


def test_a_process_that_dies_while_awaited_says_so_with_its_log(started):
    process = started("doomed", "print('no database', flush=True); raise SystemExit(3)",
                      ready=logs_line("never"))
    with pytest.raises(ProcessExited, match="(?s)exited with code 3.*no database"):
        process.wait_ready(timeout=20)


def test_a_process_not_ready_in_time_is_a_deadline_with_its_log(started):
    process = started("quiet", "import time; print('starting', flush=True); time.sleep(120)",
                      ready=logs_line("never"))
    with pytest.raises(DeadlinePassed, match="(?s)quiet ready.*starting"):
        process.wait_ready(timeout=0.5)


def test_a_pid_file_naming_an_unrelated_process_is_never_stopped(tmp_path):
    # A stale pid file whose pid now belongs to someone else's process.
    stranger = subprocess.Popen(python("import time; time.sleep(120)"), start_new_session=True)
    try:
        pid_file = tmp_path / "worker.pid"
        pid_file.write_text(f"{stranger.pid}\n")
        found = Process("worker", pid_path=pid_file)
        assert found.running_pid() is None
        assert found.stop(grace=1) and found.kill()
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait(timeout=10)


def test_a_later_command_finds_our_group_by_its_pid_file(started, tmp_path):
    started("worker", POLITE, pid_path=tmp_path / "worker.pid", ready=logs_line("serving"))
    found = Process("worker", pid_path=tmp_path / "worker.pid")  # as `down` sees it
    assert found.running_pid() is not None
    assert found.stop(grace=10)
    assert found.running_pid() is None
