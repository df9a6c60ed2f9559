"""A process of the dev stack: started in a session (and so a process group) of its own
with its output in a log file, checked for readiness, stopped with a grace period and
then SIGKILL, killed with -9 on purpose (chaos), restarted.

The same handle serves the CLI (which finds a group again by its pid file in a later
command), the live tests and the bench (which hold the child they started).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from devstack.environment import now_iso
from devstack.layout import REPO
from devstack.polling import DeadlinePassed, wait_until

# Lets a later command tell our process from an unrelated one that reused a stale pid.
MARKER = "STACK_PROCESS"


class ProcessExited(RuntimeError):
    """A process died while we waited for it to become ready."""

    @classmethod
    def of(cls, process: Process) -> ProcessExited:
        code = process.popen.returncode if process.popen else None
        return cls(f"{process.name} exited with code {code}")


# --- readiness checks ---------------------------------------------------------------------

Readiness = Callable[["Process"], bool]


def answers_200(url: str, timeout: float = 2.0) -> Readiness:
    """Ready once GET `url` answers 200."""

    def check(process: Process) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return check


def logs_line(pattern: str) -> Readiness:
    """Ready once the log, since this start, has a line matching `pattern`."""
    compiled = re.compile(pattern)
    return lambda process: compiled.search(process.log_since_start()) is not None


# --- process groups ---------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of the group lives."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    # Scanning /proc rather than killpg(pgid, 0): a zombie nobody has reaped yet
    # still "exists" for kill(), and would make a stop wait for nothing.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def leader_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc: assume it is there; killpg covers the rest
    return state[state.rfind(")") + 2 :].split()[0] != "Z"


def carries_marker(pid: int, name: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except FileNotFoundError:
        # The leader is gone but the group still has members: Linux does not hand out
        # a pid that is still some group's id, so these are the leader's children.
        return True
    except OSError:
        return True  # no /proc or not readable: trust the pid file
    return f"{MARKER}={name}".encode() in environ.split(b"\0")


class Process:
    """One process group: `argv` under `env`, output to `log_path`.

    With `pid_path` the group's id is written there, so another command (`down`,
    `kill-worker`) can find it again; such a group only counts as ours while its leader
    carries STACK_PROCESS=<name> in its environment.
    """

    def __init__(self, name: str, argv: Sequence[str] = (), log_path: Path | None = None, *,
                 env: Mapping[str, str] | None = None, cwd: Path = REPO,
                 pid_path: Path | None = None, ready: Readiness | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.name, self.argv, self.env, self.cwd = name, list(argv), env, cwd
        self.log_path = log_path or Path(os.devnull)
        self.pid_path, self.ready, self.say = pid_path, ready, say or (lambda message: None)
        self.popen: subprocess.Popen | None = None
        self.log_offset = 0  # where this start's output begins in the log

    def __repr__(self) -> str:
        return f"<Process {self.name} pid={self.pid}>"

    # --- starting -----------------------------------------------------------------------

    def start(self, append: bool = True) -> Process:
        """Start the group; returns at once (see `wait_ready`). `append` keeps the log of
        earlier runs (a killed worker's last lines), else the log starts empty."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**(os.environ if self.env is None else self.env), "PYTHONUNBUFFERED": "1"}
        if self.pid_path is not None:
            env[MARKER] = self.name
        with open(self.log_path, "a" if append else "w") as log:
            log.write(f"--- {now_iso()} {shlex.join(self.argv)}\n")
            log.flush()
            self.log_offset = os.fstat(log.fileno()).st_size
            # A session of its own: Ctrl-C in the terminal that started it does not reach
            # it, and a stop can signal the process together with its children (gunicorn
            # and Celery pool workers) through the group.
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        if self.pid_path is not None:
            self.pid_path.parent.mkdir(parents=True, exist_ok=True)
            self.pid_path.write_text(f"{self.popen.pid}\n")
        return self

    def check_ready(self) -> bool:
        """True once ready; ProcessExited if the process we started has died."""
        if self.popen is not None and self.popen.poll() is not None:
            raise ProcessExited.of(self)
        return self.ready is None or self.ready(self)

    def wait_ready(self, timeout: float, interval: float = 0.1) -> None:
        """Return once ready; ProcessExited or DeadlinePassed, the log's tail in the message."""
        try:
            wait_until(self.check_ready, timeout=timeout, interval=interval,
                       message=f"{self.name} ready")
        except (ProcessExited, DeadlinePassed) as error:
            raise type(error)(f"{error}; last lines of {self.log_path}:\n{self.tail()}") from None

    # --- finding it ---------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The group's id: of the child we started, else from the pid file."""
        if self.popen is not None:
            return self.popen.pid
        if self.pid_path is None:
            return None
        try:
            return int(self.pid_path.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def running_pid(self) -> int | None:
        """The group's id while any of it lives (and, found by pid file, is ours)."""
        pid = self.pid
        if pid is None or not group_alive(pid):
            return None
        if self.popen is None and not carries_marker(pid, self.name):
            return None
        return pid

    @property
    def alive(self) -> bool:
        return self.running_pid() is not None

    # --- stopping -----------------------------------------------------------------------

    def stop(self, grace: float = 15.0) -> bool:
        """SIGTERM to the leader, then SIGKILL to the group after `grace` seconds; True
        once the whole group is gone (or was not running)."""
        pid = self.running_pid()
        if pid is None:
            self._forget()
            return True
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                if sig != signal.SIGKILL and leader_alive(pid):
                    # The graceful signal goes to the leader alone: Celery's and gunicorn's
                    # main processes shut their children down in order, whereas children
                    # hit directly die mid-task and leave the main process waiting for them.
                    os.kill(pid, sig)
                else:
                    os.killpg(pid, sig)
            except ProcessLookupError:
                break
            if self._gone_within(pid, wait):
                break
            if sig != signal.SIGKILL:
                self.say(f"{self.name} (group {pid}) ignored SIGTERM for {wait:.0f} s: SIGKILL")
        if group_alive(pid):
            self.say(f"{self.name} (group {pid}) is still alive after SIGKILL")
            return False
        self._forget()
        return True

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 30.0) -> bool:
        """Signal the whole group at once (kill -9 by default): no warm shutdown, no chance
        to requeue or ack, as an OOM kill or a lost node does to messages in flight."""
        pid = self.running_pid()
        if pid is None:
            self._forget()
            return True
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        gone = self._gone_within(pid, timeout)
        if gone:
            self._forget()
        return gone

    def restart(self, grace: float = 15.0) -> Process:
        """Stop (if running) and start again, the log kept."""
        if not self.stop(grace):
            raise RuntimeError(f"{self.name} could not be stopped")
        return self.start(append=True)

    def _gone_within(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while group_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _forget(self) -> None:
        if self.popen is not None:
            try:
                self.popen.wait(timeout=5)  # reap our child: no zombie left behind
            except subprocess.TimeoutExpired:
                pass
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)

    # --- its log ------------------------------------------------------------------------

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        try:
            content = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return "\n".join(content[-lines:])
