#!/usr/bin/env python3
"""Run the whole service on one machine: sandbox, web, Celery worker and beat.

`up` uses PostgreSQL and Redis when both answer on 127.0.0.1, and otherwise an
embedded mode (an SQLite file and kombu's filesystem broker) that needs no server.
The choice is written to var/stack.env, so `demo.py`, `down` and `restart-worker`
act on the same stack that `up` started. Standard library only: it must run before
(and without) the virtualenv.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VAR = REPO / "var"
RUN_DIR = VAR / "run"
LOG_DIR = VAR / "log"
STACK_ENV_FILE = VAR / "stack.env"

HOST = "127.0.0.1"
WEB_PORT = 8000
SANDBOX_PORT = 8900
WEB_URL = f"http://{HOST}:{WEB_PORT}"
SANDBOX_URL = f"http://{HOST}:{SANDBOX_PORT}"
SANDBOX_HEALTH_URL = f"{SANDBOX_URL}/sandbox/health"
READYZ_URL = f"{WEB_URL}/readyz"

POSTGRES_ADDR = (HOST, 5432)
REDIS_ADDR = (HOST, 6379)
SERVICES_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/push_provisioning",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
}
EMBEDDED_ENV = {
    "DATABASE_URL": f"sqlite:///{VAR / 'db.sqlite3'}",
    "CELERY_BROKER_URL": "filesystem://",
    # Written out empty on purpose: a REDIS_URL exported later in the shell must not
    # give a restarted worker a different cache and breaker from the running web.
    "REDIS_URL": "",
}
CONNECTION_KEYS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
# Everything a later command needs to join the running stack; also `. var/stack.env`-able.
STACK_KEYS = (
    "STACK_MODE",
    "DJANGO_SETTINGS_MODULE",
    *CONNECTION_KEYS,
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "SANDBOX_WEBHOOK_URL",
)
QUEUES = "provisioning,tokens,notifications,reconciliation"
# Start order; `down` stops in reverse so producers stop before the worker, and the
# sandbox goes last because a worker finishing its task may still be calling it.
PROCESSES = ("sandbox", "web", "worker", "beat")
# Celery logs "<hostname> ready." once the worker consumes; the HTTP checks cannot see that.
WORKER_READY = re.compile(r"\S+@\S+ ready\.")

START_TIMEOUT = float(os.environ.get("STACK_START_TIMEOUT", "90"))
STOP_TIMEOUT = float(os.environ.get("STACK_STOP_TIMEOUT", "15"))
POLL_SECONDS = 0.25


class StackError(Exception):
    """A step of `up` failed; `log` names the process whose log explains it."""

    def __init__(self, message: str, log: str | None = None) -> None:
        super().__init__(message)
        self.log = log


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def venv_python() -> str:
    # Children run under the project's venv even when this script is started by a
    # bare python3; inside a container (no .venv) the current interpreter is the env.
    venv = Path(os.environ.get("VENV", ".venv"))
    candidate = (venv if venv.is_absolute() else REPO / venv) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


# --- environment ------------------------------------------------------------------------


def postgres_answers(addr: tuple[str, int] = POSTGRES_ADDR, timeout: float = 1.0) -> bool:
    # An SSLRequest is answered with one byte ('S' or 'N') before any authentication,
    # so this proves a PostgreSQL server, not just any listener on the port.
    try:
        with socket.create_connection(addr, timeout=timeout) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False


def redis_answers(addr: tuple[str, int] = REDIS_ADDR, timeout: float = 1.0) -> bool:
    # A Redis that wants a password answers -NOAUTH: not usable without credentials.
    try:
        with socket.create_connection(addr, timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def choose_environment(
    environ: Mapping[str, str], requested: str = "auto"
) -> tuple[dict[str, str], list[str]]:
    """Return the stack's variables and notes on how they were chosen.

    Each exported connection variable wins on its own; the probes only fill in the rest.
    An exported but empty REDIS_URL counts (it means "no Redis"); an empty
    DATABASE_URL or CELERY_BROKER_URL does not.
    """
    notes: list[str] = []
    exported = {
        key: environ[key]
        for key in CONNECTION_KEYS
        if key in environ and (environ[key] or key == "REDIS_URL")
    }
    if requested == "auto":
        if {"DATABASE_URL", "CELERY_BROKER_URL"} <= exported.keys():
            base = {}  # nothing left to decide: no reason to probe
        else:
            pg, redis = postgres_answers(POSTGRES_ADDR), redis_answers(REDIS_ADDR)
            notes.append(
                f"PostgreSQL on {POSTGRES_ADDR[0]}:{POSTGRES_ADDR[1]} "
                f"{'answers' if pg else 'does not answer'}; Redis on "
                f"{REDIS_ADDR[0]}:{REDIS_ADDR[1]} {'answers' if redis else 'does not answer'}"
            )
            base = SERVICES_ENV if pg and redis else EMBEDDED_ENV
    else:
        base = SERVICES_ENV if requested == "services" else EMBEDDED_ENV
        notes.append(f"mode {requested} requested")
    chosen = {**EMBEDDED_ENV, **base, **exported}
    if exported:
        notes.append("exported by you: " + ", ".join(sorted(exported)))
    chosen["STACK_MODE"] = describe_mode(chosen)
    chosen["DJANGO_SETTINGS_MODULE"] = (
        environ.get("DJANGO_SETTINGS_MODULE") or "config.settings.dev"
    )
    chosen["WEB_CONCURRENCY"] = environ.get("WEB_CONCURRENCY") or "2"
    chosen["WORKER_CONCURRENCY"] = environ.get("WORKER_CONCURRENCY") or "2"
    chosen["SANDBOX_WEBHOOK_URL"] = (
        environ.get("SANDBOX_WEBHOOK_URL") or f"{WEB_URL}/webhooks/token-service"
    )
    return {key: chosen[key] for key in STACK_KEYS}, notes


def describe_mode(env: Mapping[str, str]) -> str:
    database = "postgres" if is_postgres(env["DATABASE_URL"]) else env["DATABASE_URL"].split(":")[0]
    broker = env["CELERY_BROKER_URL"].split(":")[0]
    if database == "postgres" and broker == "redis" and env.get("REDIS_URL"):
        return "services"
    if database == "sqlite" and broker == "filesystem" and not env.get("REDIS_URL"):
        return "embedded"
    return "mixed"


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0] in {"postgres", "postgresql", "pgsql", "postgis"}


def write_stack_env(env: Mapping[str, str]) -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Written by scripts/stack.py up at {now_iso()}; read by demo, down, restart-worker.",
        "# A shell can join the same stack with: set -a; . var/stack.env; set +a",
    ]
    lines += [f"{key}={shlex.quote(env[key])}" for key in STACK_KEYS if key in env]
    tmp = STACK_ENV_FILE.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(STACK_ENV_FILE)


def load_stack_env(path: Path | None = None) -> dict[str, str] | None:
    """The variables of the stack `up` started, or None if it never ran."""
    # Resolved at call time: a wrapper that re-points STACK_ENV_FILE (bench/stackctl.py)
    # must never read the shared var/stack.env by way of a default bound at import.
    path = path or STACK_ENV_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    env: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        parts = shlex.split(value)
        env[key.strip()] = parts[0] if parts else ""
    return env


def child_environment(stack_env: Mapping[str, str], name: str | None = None) -> dict[str, str]:
    env = {**os.environ, **stack_env, "PYTHONUNBUFFERED": "1"}
    if name:
        # Lets `down` tell our process from an unrelated one that reused a stale pid.
        env["STACK_PROCESS"] = name
    return env


def redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


# --- database ---------------------------------------------------------------------------

# Runs under the venv's python (psycopg and django-environ are not stdlib). The URL is
# read by django-environ, as the settings read it, so a socket path or query options
# mean the same here as in Django. CREATE DATABASE cannot run inside a transaction.
CREATE_DATABASE = """
import sys
import environ
import psycopg
from psycopg import errors, sql

config = environ.Env.db_url_config(sys.argv[1])
name = config["NAME"]
params = {
    "dbname": "postgres",
    "host": config.get("HOST") or None,
    "port": config.get("PORT") or None,
    "user": config.get("USER") or None,
    "password": config.get("PASSWORD") or None,
    **config.get("OPTIONS", {}),
}
params = {key: value for key, value in params.items() if value is not None}
with psycopg.connect(autocommit=True, connect_timeout=5, **params) as conn:
    found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
        except errors.DuplicateDatabase:
            pass  # created by someone else between our look and our CREATE
"""


def ensure_database(database_url: str) -> None:
    result = subprocess.run(
        [venv_python(), "-c", CREATE_DATABASE, database_url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise StackError(
            f"could not make sure the database of {redact_url(database_url)} exists: {detail}"
        )
    if result.stdout.strip():
        say(result.stdout.strip())


def run_management_command(name: str, argv: list[str], env: Mapping[str, str]) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}.log"
    with open(log_path, "w") as log:
        log.write(f"--- {now_iso()} {shlex.join(argv)}\n")
        log.flush()
        try:
            result = subprocess.run(
                argv, cwd=REPO, env=child_environment(env), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, timeout=600,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"{name} did not finish within 600 s", log=name) from None
    if result.returncode != 0:
        raise StackError(f"{name} failed (exit {result.returncode})", log=name)


# --- processes --------------------------------------------------------------------------


def internal_port() -> str:
    """The internal listener's port when one is exported (ADR 0006), else ''. The dev stack
    has one listener serving everything unless INTERNAL_PORT asks for the production split."""
    port = os.environ.get("INTERNAL_PORT", "").strip()
    return "" if port in ("", "0") else port


def commands(env: Mapping[str, str]) -> dict[str, list[str]]:
    python = venv_python()
    # --bind replaces config/gunicorn.py's listeners, so the internal one is named here too.
    internal = ["--bind", f"{HOST}:{internal_port()}"] if internal_port() else []
    return {
        "sandbox": [python, "-m", "sandbox", "--host", HOST, "--port", str(SANDBOX_PORT)],
        "web": [
            python, "-m", "gunicorn", "config.wsgi:application",
            "--config", "python:config.gunicorn",
            "--bind", f"{HOST}:{WEB_PORT}",
            *internal,
            "--workers", env["WEB_CONCURRENCY"],
            "--access-logfile", "-",
        ],
        "worker": [
            python, "-m", "celery", "-A", "config", "worker",
            "-Q", QUEUES,
            "--concurrency", env["WORKER_CONCURRENCY"],
            "--hostname", "worker@%h",
            "--loglevel", "INFO",
            # One worker: gossip and mingle only add start-up time and broker chatter.
            "--without-gossip", "--without-mingle",
        ],
        "beat": [
            python, "-m", "celery", "-A", "config", "beat",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--loglevel", "INFO",
        ],
    }


def pid_file(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def log_file(name: str) -> Path:
    return LOG_DIR / f"{name}.log"


def read_pid(name: str) -> int | None:
    try:
        return int(pid_file(name).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


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
    # still "exists" for kill(), and would make `down` wait for nothing.
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


def is_ours(name: str, pid: int) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except FileNotFoundError:
        # The leader is gone but the group still has members: Linux does not hand out
        # a pid that is still some group's id, so these are the leader's children.
        return True
    except OSError:
        return True  # no /proc or not readable: trust the pid file
    return f"STACK_PROCESS={name}".encode() in environ.split(b"\0")


def running_pid(name: str) -> int | None:
    pid = read_pid(name)
    if pid is not None and group_alive(pid) and is_ours(name, pid):
        return pid
    return None


def start_process(
    name: str, stack_env: Mapping[str, str], append: bool = False
) -> subprocess.Popen:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    argv = commands(stack_env)[name]
    with open(log_file(name), "a" if append else "w") as log:
        log.write(f"--- {now_iso()} started by scripts/stack.py: {shlex.join(argv)}\n")
        log.flush()
        # A session of its own: Ctrl-C in the terminal that ran `up` does not reach it,
        # and `down` can signal the process together with its children (gunicorn and
        # Celery pool workers) through the group.
        process = subprocess.Popen(
            argv, cwd=REPO, env=child_environment(stack_env, name), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    pid_file(name).write_text(f"{process.pid}\n")
    return process


def stop_process(name: str, sig_first: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the group `name` runs in; True once it is gone (or was not running)."""
    pid = running_pid(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return True
    for sig, wait in ((sig_first, timeout), (signal.SIGKILL, 5.0)):
        try:
            if sig != signal.SIGKILL and leader_alive(pid):
                # The graceful signal goes to the leader alone: Celery's and gunicorn's
                # main processes shut their children down in order, whereas children hit
                # directly die mid-task and leave the main process waiting for them.
                os.kill(pid, sig)
            else:
                os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_alive(pid):
            time.sleep(0.1)
        if not group_alive(pid):
            break
        if sig != signal.SIGKILL:
            signame = signal.Signals(sig).name
            say(f"{name} (group {pid}) ignored {signame} for {wait:.0f} s: SIGKILL")
    if group_alive(pid):
        say(f"{name} (group {pid}) is still alive after SIGKILL")
        return False
    pid_file(name).unlink(missing_ok=True)
    return True


# --- health -----------------------------------------------------------------------------


def http_status(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, ""


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def worker_reported_ready(since_offset: int) -> bool:
    try:
        with open(log_file("worker"), "rb") as log:
            log.seek(since_offset)
            return WORKER_READY.search(log.read().decode("utf-8", "replace")) is not None
    except FileNotFoundError:
        return False


def log_size(name: str) -> int:
    try:
        return log_file(name).stat().st_size
    except FileNotFoundError:
        return 0


def tail(name: str, lines: int = 40) -> str:
    try:
        content = log_file(name).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {log_file(name)})"
    return "\n".join(content[-lines:])


def wait_until_ready(started: Mapping[str, subprocess.Popen], worker_log_offset: int) -> None:
    """Poll until sandbox and web are healthy; fail early when a process dies."""
    deadline = time.monotonic() + START_TIMEOUT
    pending = {"sandbox": SANDBOX_HEALTH_URL, "web": READYZ_URL}
    worker_ready = False
    last_body = ""
    while True:
        for name, process in started.items():
            if process.poll() is not None:
                raise StackError(f"{name} exited with code {process.returncode}", log=name)
        for name, url in list(pending.items()):
            status, body = http_status(url)
            if status == 200:
                del pending[name]
            elif name == "web" and status is not None:
                last_body = body  # /readyz says which dependency is down
        worker_ready = worker_ready or worker_reported_ready(worker_log_offset)
        if not pending and worker_ready:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    if pending:
        name = next(iter(pending))
        detail = f"; last answer: {last_body.strip()}" if name == "web" and last_body else ""
        raise StackError(
            f"{name} not ready at {pending[name]} after {START_TIMEOUT:.0f} s{detail}", log=name
        )
    # The HTTP side is up; a worker still starting only delays tasks, so do not fail.
    say(f"worker has not reported ready after {START_TIMEOUT:.0f} s; see {rel(log_file('worker'))}")


# --- commands ---------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    running = {name: pid for name in PROCESSES if (pid := running_pid(name))}
    if running:
        listing = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
        say(f"already running: {listing}. Run `make down` first.")
        return 1
    for name in PROCESSES:
        pid_file(name).unlink(missing_ok=True)  # stale files of a stack that died
    # Someone else's server on our ports would answer the health checks for us.
    busy = [port for port in (SANDBOX_PORT, WEB_PORT) if port_in_use(port)]
    if busy:
        say(f"{HOST}:{busy[0]} is in use by a process this script did not start; stop it first.")
        return 1

    env, notes = choose_environment(os.environ, args.mode)
    for note in notes:
        say(note)
    say(f"mode: {env['STACK_MODE']}; settings {env['DJANGO_SETTINGS_MODULE']}")
    write_stack_env(env)

    python = venv_python()
    started: dict[str, subprocess.Popen] = {}
    try:
        if is_postgres(env["DATABASE_URL"]):
            ensure_database(env["DATABASE_URL"])
        say("migrating the database")
        run_management_command("migrate", [python, "manage.py", "migrate", "--noinput"], env)
        worker_log_offset = 0  # the worker log is truncated on start
        for name in PROCESSES:
            say(f"starting {name}")
            started[name] = start_process(name, env)
        say(f"waiting for sandbox and web (deadline {START_TIMEOUT:.0f} s)")
        wait_until_ready(started, worker_log_offset)
    except (StackError, OSError, subprocess.SubprocessError) as error:
        say(f"up failed: {error}")
        log = getattr(error, "log", None)
        if log:
            print(f"--- last lines of {rel(log_file(log))} ---\n{tail(log)}\n---", flush=True)
        stop_started(started)
        return 1
    except KeyboardInterrupt:
        say("interrupted: stopping what was started")
        stop_started(started)
        return 130
    print_table(env, {name: process.pid for name, process in started.items()})
    return 0


def stop_started(started: Mapping[str, subprocess.Popen]) -> None:
    for name in reversed(list(started)):
        stop_process(name)
        started[name].poll()  # reap our own child


def cmd_down(args: argparse.Namespace) -> int:
    running = [name for name in PROCESSES if running_pid(name)]
    if not running:
        for name in PROCESSES:
            pid_file(name).unlink(missing_ok=True)
        say("nothing running")
        return 0
    failed = []
    for name in reversed(PROCESSES):
        began = time.monotonic()
        pid = read_pid(name)
        if not stop_process(name):
            failed.append(name)
        elif name in running:
            say(f"stopped {name} (group {pid}) in {time.monotonic() - began:.1f} s")
    if failed:
        say(f"could not stop: {', '.join(failed)}")
        return 1
    say("stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    env = load_stack_env()
    states = {}
    for name in PROCESSES:
        pid = running_pid(name)
        if pid:
            states[name] = f"running (pid {pid})"
        elif read_pid(name):
            states[name] = "dead (stale pid file)"
        else:
            states[name] = "stopped"
    sandbox_status, _ = http_status(SANDBOX_HEALTH_URL)
    ready_status, ready_body = http_status(READYZ_URL)
    health = {
        "sandbox": f"health {sandbox_status or 'no answer'}",
        "web": f"readyz {ready_status or 'no answer'}",
    }
    width = max(map(len, PROCESSES))
    for name in PROCESSES:
        print(f"{name:<{width}}  {states[name]:<22}  {health.get(name, ''):<18}  "
              f"{rel(log_file(name))}")
    if ready_status == 503:
        print(f"readyz: {ready_body.strip()}")
    if env:
        print(f"mode: {env.get('STACK_MODE')}; database {redact_url(env.get('DATABASE_URL', ''))}; "
              f"broker {redact_url(env.get('CELERY_BROKER_URL', ''))}")
    alive = sum(state.startswith("running") for state in states.values())
    # LSB-style: 0 all running, 3 not running, 1 partly running.
    return 0 if alive == len(PROCESSES) else 3 if alive == 0 else 1


def cmd_kill_worker(args: argparse.Namespace) -> int:
    pid = running_pid("worker")
    if pid is None:
        say("worker is not running")
        return 1
    # SIGKILL on the whole group: no warm shutdown, no chance to requeue or ack,
    # exactly what an OOM kill or a lost node does to messages in flight.
    say(f"kill -9 worker group {pid}")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and group_alive(pid):
        time.sleep(0.05)
    pid_file("worker").unlink(missing_ok=True)
    return 0


def cmd_restart_worker(args: argparse.Namespace) -> int:
    env = load_stack_env()
    if env is None:
        say(f"no {rel(STACK_ENV_FILE)}: start the stack with `make up` first")
        return 1
    if running_pid("worker") and not stop_process("worker"):
        return 1
    offset = log_size("worker")
    process = start_process("worker", env, append=True)  # keep the log of the killed one
    say(f"worker started (pid {process.pid}); waiting for it to consume")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            say(f"worker exited with code {process.returncode}")
            print(tail("worker"), flush=True)
            pid_file("worker").unlink(missing_ok=True)
            return 1
        if worker_reported_ready(offset):
            say("worker ready")
            return 0
        time.sleep(POLL_SECONDS)
    say(f"worker has not reported ready after {START_TIMEOUT:.0f} s; see {rel(log_file('worker'))}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print what `up` would choose (or what the running stack uses), shell-quoted."""
    env = load_stack_env() if args.current else None
    notes: list[str] = []
    if env is None:
        env, notes = choose_environment(os.environ, args.mode)
    for note in notes:
        print(f"# {note}")
    for key in STACK_KEYS:
        if key in env:
            print(f"{key}={shlex.quote(env[key])}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    env = load_stack_env() if running_pid("web") else None
    if env is None:
        env, notes = choose_environment(os.environ, args.mode)
        for note in notes:
            say(note)
    say(f"mode: {env['STACK_MODE']}; database {redact_url(env['DATABASE_URL'])}")
    try:
        if is_postgres(env["DATABASE_URL"]):
            ensure_database(env["DATABASE_URL"])
        run_management_command("migrate", [venv_python(), "manage.py", "migrate", "--noinput"], env)
    except StackError as error:
        say(str(error))
        if error.log:
            print(tail(error.log), flush=True)
        return 1
    print(tail("migrate", 15))
    return 0


# --- output -----------------------------------------------------------------------------


def print_table(env: Mapping[str, str], pids: Mapping[str, int]) -> None:
    where = {
        "sandbox": f"{SANDBOX_URL}  (health /sandbox/health, stats /sandbox/stats)",
        "web": (f"{WEB_URL}  (API /api/v1/, admin /admin/, /readyz; docs and metrics "
                f"on http://{HOST}:{internal_port()})" if internal_port() else
                f"{WEB_URL}  (API /api/v1/, docs /api/docs/, admin /admin/, /readyz)"),
        "worker": f"queues {QUEUES}, concurrency {env['WORKER_CONCURRENCY']}",
        "beat": "django_celery_beat DatabaseScheduler",
    }
    rows = [
        (name, str(pids.get(name, "-")), where[name], rel(log_file(name))) for name in PROCESSES
    ]
    header = ("process", "pid", "where", "log")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    print()
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    cache = redact_url(env["REDIS_URL"]) if env.get("REDIS_URL") else "local file cache (var/cache)"
    print()
    print(f"mode      {env['STACK_MODE']}")
    print(f"settings  {env['DJANGO_SETTINGS_MODULE']}")
    print(f"database  {redact_url(env['DATABASE_URL'])}")
    print(f"broker    {redact_url(env['CELERY_BROKER_URL'])}")
    print(f"cache     {cache}")
    print(f"env       {rel(STACK_ENV_FILE)}  (join it: set -a; . {rel(STACK_ENV_FILE)}; set +a)")
    print("stop      make down")
    print(flush=True)


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/stack.py",
        description="Start and stop sandbox, web, worker and beat on this machine.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    mode_help = ("where the database and broker come from: auto (PostgreSQL + Redis on "
                 "127.0.0.1 if both answer, else embedded), services, embedded; "
                 "env STACK_MODE")
    # STACK_MODE is also what var/stack.env records; a recorded "mixed" (exported URLs
    # of your own) is not a mode one can ask for, so it falls back to auto.
    default_mode = os.environ.get("STACK_MODE", "auto")
    if default_mode not in ("auto", "services", "embedded"):
        default_mode = "auto"
    for name, func, text in (
        ("up", cmd_up, "migrate, start all four processes, wait until healthy"),
        ("down", cmd_down, "stop exactly the process groups `up` started"),
        ("status", cmd_status, "what runs, with health (exit 0 all, 1 some, 3 none)"),
        ("kill-worker", cmd_kill_worker, "kill -9 the worker's process group (chaos)"),
        ("restart-worker", cmd_restart_worker, "start the worker again with the stack's env"),
        ("env", cmd_env, "print the environment `up` would choose"),
        ("migrate", cmd_migrate, "create the database if needed and migrate it"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        command.set_defaults(func=func)
        if name in ("up", "env", "migrate"):
            command.add_argument("--mode", choices=("auto", "services", "embedded"),
                                 default=default_mode, help=mode_help)
        if name == "env":
            command.add_argument("--current", action="store_true",
                                 help="show var/stack.env of the last `up` if there is one")
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
