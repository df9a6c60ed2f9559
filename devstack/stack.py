"""The whole service on one machine: sandbox, web (gunicorn), Celery worker and beat, each
a `Process` in one `Layout`. `scripts/stack.py` is its command line; the bench drives it
directly with a private layout.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from collections.abc import Callable, Mapping

from devstack.environment import (
    choose_environment,
    is_postgres,
    load_stack_env,
    now_iso,
    redact_url,
    write_stack_env,
)
from devstack.http import probe
from devstack.layout import REPO, Layout, venv_python
from devstack.polling import DeadlinePassed, wait_until
from devstack.processes import Process, ProcessExited, answers_200, logs_line

QUEUES = "provisioning,tokens,notifications,transfers,reconciliation"
# Start order; `down` stops in reverse so producers stop before the worker, and the
# sandbox goes last because a worker finishing its task may still be calling it.
PROCESSES = ("sandbox", "web", "worker", "beat")
# Celery logs "<hostname> ready." once the worker consumes; the HTTP checks cannot see that.
WORKER_READY = r"\S+@\S+ ready\."


class StackError(Exception):
    """A step of `up` failed; `log` names the process whose log explains it."""

    def __init__(self, message: str, log: str | None = None) -> None:
        super().__init__(message)
        self.log = log


class StackBusy(StackError):
    """`up` refused before starting anything: a stack runs, or its ports are taken."""


def sandbox_command(python: str, host: str, port: int) -> list[str]:
    return [python, "-m", "sandbox", "--host", host, "--port", str(port)]


def worker_command(python: str, *, concurrency: int | str, hostname: str,
                   queues: str = QUEUES, heartbeat: bool = True) -> list[str]:
    # One worker per broker here: gossip and mingle only add start-up time and chatter.
    argv = [python, "-m", "celery", "-A", "config", "worker", "-Q", queues,
            "--concurrency", str(concurrency), "--hostname", hostname, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle"]
    return argv + ([] if heartbeat else ["--without-heartbeat"])


def internal_port(environ: Mapping[str, str] | None = None) -> str:
    """The internal listener's port when one is exported (ADR 0006), else ''. The dev stack
    has one listener serving everything unless INTERNAL_PORT asks for the production split."""
    port = (os.environ if environ is None else environ).get("INTERNAL_PORT", "").strip()
    return "" if port in ("", "0") else port


def commands(layout: Layout, env: Mapping[str, str], python: str) -> dict[str, list[str]]:
    # --bind replaces config/gunicorn.py's listeners, so the internal one is named here too.
    internal = ["--bind", f"{layout.host}:{internal_port()}"] if internal_port() else []
    return {
        "sandbox": sandbox_command(python, layout.host, layout.sandbox_port),
        "web": [
            python, "-m", "gunicorn", "config.wsgi:application",
            "--config", "python:config.gunicorn",
            "--bind", f"{layout.host}:{layout.web_port}",
            *internal,
            "--workers", env["WEB_CONCURRENCY"],
            "--access-logfile", "-",
        ],
        "worker": worker_command(python, concurrency=env["WORKER_CONCURRENCY"],
                                 hostname="worker@%h"),
        "beat": [
            python, "-m", "celery", "-A", "config", "beat",
            "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--loglevel", "INFO",
        ],
    }


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


class Stack:
    """Sandbox, web, worker and beat of one layout.

    `environ` is what the processes inherit beneath the stack's own variables (default:
    this process's environment); `say` receives each line of progress.
    """

    def __init__(self, layout: Layout | None = None, *, environ: Mapping[str, str] | None = None,
                 say: Callable[[str], None] | None = None,
                 start_timeout: float | None = None, stop_timeout: float | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.layout = layout or Layout.from_environ(self.environ)
        self.say = say or (lambda message: print(f"[stack] {message}", flush=True))
        self.python = venv_python(self.environ)
        self.start_timeout = start_timeout or float(
            self.environ.get("STACK_START_TIMEOUT") or "90")
        self.stop_timeout = stop_timeout or float(self.environ.get("STACK_STOP_TIMEOUT") or "15")
        # The processes this object started: stopping them through these handles also
        # reaps them (a long-lived caller such as the bench collects no zombies).
        self.held: dict[str, Process] = {}

    # --- the processes --------------------------------------------------------------------

    def process(self, name: str, env: Mapping[str, str] | None = None) -> Process:
        """The handle of `name`; with the stack's `env` a new one that can be started."""
        if env is None and name in self.held:
            return self.held[name]
        layout = self.layout
        argv = commands(layout, env, self.python)[name] if env else []
        ready = {"sandbox": answers_200(layout.sandbox_health_url),
                 "web": answers_200(layout.readyz_url),
                 "worker": logs_line(WORKER_READY)}.get(name)
        return Process(name, argv, layout.log_file(name), env=self.child_env(env or {}),
                       pid_path=layout.pid_file(name), ready=ready, say=self.say)

    def child_env(self, stack_env: Mapping[str, str]) -> dict[str, str]:
        return {**self.environ, **stack_env}

    def running(self) -> dict[str, int]:
        return {name: pid for name in PROCESSES if (pid := self.process(name).running_pid())}

    def env(self) -> dict[str, str] | None:
        """The variables of the stack `up` started here (its env file), if any."""
        return load_stack_env(self.layout.stack_env_file)

    def choose(self, mode: str = "auto") -> tuple[dict[str, str], list[str]]:
        return choose_environment(self.environ, mode, self.layout)

    # --- up and down --------------------------------------------------------------------

    def up(self, mode: str = "auto") -> tuple[dict[str, str], dict[str, Process]]:
        """Migrate, start all four, wait until healthy. On failure everything started is
        stopped again and StackError says which log to read."""
        running = self.running()
        if running:
            listing = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
            raise StackBusy(f"already running: {listing}. Run `make down` first.")
        for name in PROCESSES:
            self.layout.pid_file(name).unlink(missing_ok=True)  # a stack that died
        # Someone else's server on our ports would answer the health checks for us.
        for port in (self.layout.sandbox_port, self.layout.web_port):
            if port_in_use(self.layout.host, port):
                raise StackBusy(f"{self.layout.host}:{port} is in use by a process this "
                                 "script did not start; stop it first.")
        env, notes = self.choose(mode)
        for note in notes:
            self.say(note)
        self.say(f"mode: {env['STACK_MODE']}; settings {env['DJANGO_SETTINGS_MODULE']}")
        env_file = self.layout.stack_env_file
        write_stack_env(env_file, env, self.layout.relative(env_file))
        started: dict[str, Process] = {}
        try:
            self.prepare_database(env)
            for name in PROCESSES:
                self.say(f"starting {name}")
                started[name] = self.held[name] = self.process(name, env).start(append=False)
            self.say(f"waiting for sandbox and web (deadline {self.start_timeout:.0f} s)")
            self._wait_healthy(started)
        except BaseException:
            self.stop(list(started))
            raise
        return env, started

    def _wait_healthy(self, started: Mapping[str, Process]) -> None:
        """Until sandbox and web are healthy; fail early when a process dies."""
        pending = {"sandbox", "web", "worker"}

        def healthy() -> bool:
            for name, process in started.items():
                try:
                    if name in pending and process.check_ready():
                        pending.discard(name)
                    elif process.popen.poll() is not None:
                        raise ProcessExited.of(process)
                except ProcessExited as error:
                    raise StackError(str(error), log=name) from None
            return not pending

        try:
            wait_until(healthy, timeout=self.start_timeout, interval=0.25)
        except DeadlinePassed:
            urls = {"sandbox": self.layout.sandbox_health_url, "web": self.layout.readyz_url}
            late = [name for name in urls if name in pending]
            if late:
                name, url = late[0], urls[late[0]]
                status, body = probe(url)  # /readyz says which dependency is down
                detail = f"; last answer: {body.strip()}" if name == "web" and status else ""
                raise StackError(f"{name} not ready at {url} after {self.start_timeout:.0f} s"
                                 f"{detail}", log=name) from None
            # The HTTP side is up; a worker still starting only delays tasks: no failure.
            self.say(f"worker has not reported ready after {self.start_timeout:.0f} s; "
                     f"see {self.layout.relative(self.layout.log_file('worker'))}")

    def stop(self, names: list[str] | None = None) -> list[str]:
        """Stop `names` (default all) in reverse start order; the names that would not die."""
        failed = []
        for name in reversed(names if names is not None else list(PROCESSES)):
            process = self.process(name)
            pid = process.running_pid()
            began = time.monotonic()
            if not process.stop(self.stop_timeout):
                failed.append(name)
            elif pid is not None:
                self.say(f"stopped {name} (group {pid}) in {time.monotonic() - began:.1f} s")
        return failed

    def down(self) -> bool:
        """Stop exactly the process groups `up` started; True when nothing is left."""
        if not self.running():
            for name in PROCESSES:
                self.layout.pid_file(name).unlink(missing_ok=True)
            self.say("nothing running")
            return True
        failed = self.stop()
        if failed:
            self.say(f"could not stop: {', '.join(failed)}")
            return False
        self.say("stopped")
        return True

    # --- the worker, for chaos ----------------------------------------------------------

    def kill_worker(self) -> bool:
        worker = self.process("worker")
        pid = worker.running_pid()
        if pid is None:
            self.say("worker is not running")
            return False
        self.say(f"kill -9 worker group {pid}")
        worker.kill(timeout=5)
        self.layout.pid_file("worker").unlink(missing_ok=True)
        return True

    def restart_worker(self) -> bool:
        """Start the worker again with the running stack's variables; wait until it consumes."""
        env = self.env()
        if env is None:
            self.say(f"no {self.layout.relative(self.layout.stack_env_file)}: "
                     "start the stack with `make up` first")
            return False
        running = self.process("worker")
        if running.running_pid() and not running.stop(self.stop_timeout):
            return False
        worker = self.process("worker", env)
        self.held["worker"] = worker.start(append=True)  # the log of the killed one kept
        self.say(f"worker started (pid {worker.pid}); waiting for it to consume")
        try:
            worker.wait_ready(self.start_timeout, interval=0.25)
        except ProcessExited:
            self.say(f"worker exited with code {worker.popen.returncode}; last lines of "
                     f"{self.layout.relative(worker.log_path)}:\n{worker.tail()}")
            self.layout.pid_file("worker").unlink(missing_ok=True)
            return False
        except DeadlinePassed:
            self.say(f"worker has not reported ready after {self.start_timeout:.0f} s; "
                     f"see {self.layout.relative(worker.log_path)}")
            return True
        self.say("worker ready")
        return True

    # --- the database -------------------------------------------------------------------

    def prepare_database(self, env: Mapping[str, str]) -> None:
        """Create the PostgreSQL database if missing, then apply migrations."""
        if is_postgres(env["DATABASE_URL"]):
            self.ensure_database(env["DATABASE_URL"])
        self.say("migrating the database")
        self.manage("migrate", ["migrate", "--noinput"], env)

    def ensure_database(self, database_url: str) -> None:
        result = subprocess.run([self.python, "-c", CREATE_DATABASE, database_url],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise StackError(f"could not make sure the database of "
                             f"{redact_url(database_url)} exists: {detail}")
        if result.stdout.strip():
            self.say(result.stdout.strip())

    def manage(self, log_name: str, args: list[str], env: Mapping[str, str]) -> None:
        """`manage.py <args>` with the stack's variables, its output in log `log_name`."""
        argv = [self.python, "manage.py", *args]
        log_path = self.layout.log_file(log_name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            log.write(f"--- {now_iso()} {shlex.join(argv)}\n")
            log.flush()
            try:
                result = subprocess.run(
                    argv, cwd=REPO, env={**self.child_env(env), "PYTHONUNBUFFERED": "1"},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=600)
            except subprocess.TimeoutExpired:
                raise StackError(f"{log_name} did not finish within 600 s", log=log_name) from None
        if result.returncode != 0:
            raise StackError(f"{log_name} failed (exit {result.returncode})", log=log_name)


def port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
