#!/usr/bin/env python3
"""Run the whole service on one machine: sandbox, web, Celery worker and beat.

`up` uses PostgreSQL and Redis when both answer on 127.0.0.1, and otherwise an
embedded mode (an SQLite file and kombu's filesystem broker) that needs no server.
The choice is written to <run dir>/stack.env, so `demo.py`, `down` and `restart-worker`
act on the same stack that `up` started. The work is done by the `devstack` package;
this is its command line. Standard library only: it must run before (and without) the
virtualenv.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: devstack

from devstack.environment import MODES, redact_url, stack_keys  # noqa: E402
from devstack.http import probe  # noqa: E402
from devstack.layout import (  # noqa: E402
    DEFAULT_RUN_DIR,
    DEFAULT_SANDBOX_PORT,
    DEFAULT_WEB_PORT,
    Layout,
)
from devstack.stack import (  # noqa: E402
    PROCESSES, QUEUES, Stack, StackBusy, StackError, internal_port,
)


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def print_logtail(stack: Stack, name: str, lines: int = 40) -> None:
    log = stack.layout.log_file(name)
    print(f"--- last lines of {stack.layout.relative(log)} ---\n{tail(log, lines)}\n---",
          flush=True)


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"


# --- commands ---------------------------------------------------------------------------


def cmd_up(stack: Stack, args: argparse.Namespace) -> int:
    try:
        env, started = stack.up(args.mode)
    except StackBusy as error:
        say(str(error))
        return 1
    except (StackError, OSError, subprocess.SubprocessError) as error:
        say(f"up failed: {error}")
        if getattr(error, "log", None):
            print_logtail(stack, error.log)
        return 1
    except KeyboardInterrupt:
        say("interrupted: what was started is stopped")
        return 130
    print_table(stack, env, {name: process.pid for name, process in started.items()})
    return 0


def cmd_down(stack: Stack, args: argparse.Namespace) -> int:
    return 0 if stack.down() else 1


def cmd_status(stack: Stack, args: argparse.Namespace) -> int:
    layout = stack.layout
    states = {}
    for name in PROCESSES:
        process = stack.process(name)
        pid = process.running_pid()
        if pid:
            states[name] = f"running (pid {pid})"
        elif process.pid:
            states[name] = "dead (stale pid file)"
        else:
            states[name] = "stopped"
    sandbox_status, _ = probe(layout.sandbox_health_url)
    ready_status, ready_body = probe(layout.readyz_url)
    health = {
        "sandbox": f"health {sandbox_status or 'no answer'}",
        "web": f"readyz {ready_status or 'no answer'}",
    }
    width = max(map(len, PROCESSES))
    for name in PROCESSES:
        print(f"{name:<{width}}  {states[name]:<22}  {health.get(name, ''):<18}  "
              f"{layout.relative(layout.log_file(name))}")
    if ready_status == 503:
        print(f"readyz: {ready_body.strip()}")
    env = stack.env()
    if env:
        print(f"mode: {env.get('STACK_MODE')}; database {redact_url(env.get('DATABASE_URL', ''))}; "
              f"broker {redact_url(env.get('CELERY_BROKER_URL', ''))}")
    alive = sum(state.startswith("running") for state in states.values())
    # LSB-style: 0 all running, 3 not running, 1 partly running.
    return 0 if alive == len(PROCESSES) else 3 if alive == 0 else 1


def cmd_kill_worker(stack: Stack, args: argparse.Namespace) -> int:
    return 0 if stack.kill_worker() else 1


def cmd_restart_worker(stack: Stack, args: argparse.Namespace) -> int:
    return 0 if stack.restart_worker() else 1


def cmd_env(stack: Stack, args: argparse.Namespace) -> int:
    """Print what `up` would choose (or what the running stack uses), shell-quoted."""
    env = stack.env() if args.current else None
    notes: list[str] = []
    if env is None:
        env, notes = stack.choose(args.mode)
    for note in notes:
        print(f"# {note}")
    for key in stack_keys():
        if key in env:
            print(f"{key}={shlex.quote(env[key])}")
    return 0


def cmd_migrate(stack: Stack, args: argparse.Namespace) -> int:
    env = stack.env() if stack.process("web").running_pid() else None
    if env is None:
        env, notes = stack.choose(args.mode)
        for note in notes:
            say(note)
    say(f"mode: {env['STACK_MODE']}; database {redact_url(env['DATABASE_URL'])}")
    try:
        stack.prepare_database(env)
    except StackError as error:
        say(str(error))
        if error.log:
            print(tail(stack.layout.log_file(error.log), 40), flush=True)
        return 1
    print(tail(stack.layout.log_file("migrate"), 15))
    return 0


# --- output -----------------------------------------------------------------------------


def print_table(stack: Stack, env: Mapping[str, str], pids: Mapping[str, int]) -> None:
    layout = stack.layout
    where = {
        "sandbox": f"{layout.sandbox_url}  (health /sandbox/health, stats /sandbox/stats)",
        "web": (f"{layout.web_url}  (API /api/v1/, admin /admin/, /readyz; docs and metrics "
                f"on http://{layout.host}:{internal_port()})" if internal_port() else
                f"{layout.web_url}  (API /api/v1/, docs /api/docs/, admin /admin/, /readyz)"),
        "worker": f"queues {QUEUES}, concurrency {env['WORKER_CONCURRENCY']}",
        "beat": "django_celery_beat DatabaseScheduler",
    }
    rows = [(name, str(pids.get(name, "-")), where[name],
             layout.relative(layout.log_file(name))) for name in PROCESSES]
    header = ("process", "pid", "where", "log")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    print()
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    cache = (redact_url(env["REDIS_URL"]) if env.get("REDIS_URL")
             else f"local file cache ({layout.relative(Path(env['FILE_CACHE_DIR']))})")
    env_file = layout.relative(layout.stack_env_file)
    print()
    print(f"mode      {env['STACK_MODE']}")
    print(f"settings  {env['DJANGO_SETTINGS_MODULE']}")
    print(f"database  {redact_url(env['DATABASE_URL'])}")
    print(f"broker    {redact_url(env['CELERY_BROKER_URL'])}")
    print(f"cache     {cache}")
    print(f"env       {env_file}  (join it: set -a; . {env_file}; set +a)")
    print(f"stop      {stop_command(layout)}")
    print(flush=True)


def stop_command(layout: Layout) -> str:
    if layout == Layout():
        return "make down"
    return (f"python3 scripts/stack.py --run-dir {layout.relative(layout.run_dir)} "
            f"--web-port {layout.web_port} --sandbox-port {layout.sandbox_port} down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/stack.py",
        description="Start and stop sandbox, web, worker and beat on this machine.",
    )
    parser.add_argument("--run-dir", type=Path,
                        default=Path(os.environ.get("STACK_RUN_DIR") or DEFAULT_RUN_DIR),
                        help="pids, logs, stack.env and the embedded mode's data, relative to "
                             "the repository (default var; env STACK_RUN_DIR)")
    parser.add_argument("--web-port", type=int,
                        default=int(os.environ.get("STACK_WEB_PORT") or DEFAULT_WEB_PORT),
                        help="web's port on 127.0.0.1 (default 8000; env STACK_WEB_PORT)")
    parser.add_argument("--sandbox-port", type=int,
                        default=int(os.environ.get("STACK_SANDBOX_PORT") or DEFAULT_SANDBOX_PORT),
                        help="the sandbox's port (default 8900; env STACK_SANDBOX_PORT)")
    sub = parser.add_subparsers(dest="command", required=True)
    mode_help = ("where the database and broker come from: auto (PostgreSQL + Redis on "
                 "127.0.0.1 if both answer, else embedded), services, embedded; "
                 "env STACK_MODE")
    # STACK_MODE is also what stack.env records; a recorded "mixed" (exported URLs of
    # your own) is not a mode one can ask for, so it falls back to auto.
    default_mode = os.environ.get("STACK_MODE", "auto")
    if default_mode not in MODES:
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
            command.add_argument("--mode", choices=MODES, default=default_mode, help=mode_help)
        if name == "env":
            command.add_argument("--current", action="store_true",
                                 help="show stack.env of the last `up` if there is one")
    args = parser.parse_args(argv)
    layout = Layout(run_dir=args.run_dir, web_port=args.web_port, sandbox_port=args.sandbox_port)
    return args.func(Stack(layout, say=say), args)


if __name__ == "__main__":
    sys.exit(main())
