"""Which database and broker a stack uses, and the stack env file that records it.

`services` is PostgreSQL and Redis on 127.0.0.1; `embedded` is an SQLite file and
kombu's filesystem broker in the stack's run directory, for a machine with only Python;
`auto` probes for the first and falls back to the second. Every later command (`down`,
`restart-worker`, the demo) reads the env file, so it acts on the stack `up` started.
"""

from __future__ import annotations

import shlex
import socket
import struct
import urllib.parse
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from devstack.layout import HOST, Layout, sandbox_base_urls

POSTGRES_ADDR = (HOST, 5432)
REDIS_ADDR = (HOST, 6379)
MODES = ("auto", "services", "embedded")
SERVICES_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/push_provisioning",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
}
CONNECTION_KEYS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
# Everything a later command needs to join the running stack; also `. stack.env`-able
# (with stack_keys(): the outside systems' base URLs, read from the registry).
BASE_KEYS = (
    "STACK_MODE",
    "DJANGO_SETTINGS_MODULE",
    *CONNECTION_KEYS,
    "BROKER_FOLDER",
    "FILE_CACHE_DIR",
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "SANDBOX_WEBHOOK_URL",
)


def stack_keys() -> tuple[str, ...]:
    """The stack env file's variables: BASE_KEYS and every outside system's base URL."""
    return (*BASE_KEYS, *sandbox_base_urls(""))


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
    environ: Mapping[str, str], requested: str = "auto", layout: Layout | None = None
) -> tuple[dict[str, str], list[str]]:
    """Return the stack's variables and notes on how they were chosen.

    Each exported connection variable wins on its own; the probes only fill in the rest.
    An exported but empty REDIS_URL counts (it means "no Redis"); an empty
    DATABASE_URL or CELERY_BROKER_URL does not.
    """
    layout = layout or Layout()
    embedded = layout.embedded_env()
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
            base = SERVICES_ENV if pg and redis else embedded
    else:
        base = SERVICES_ENV if requested == "services" else embedded
        notes.append(f"mode {requested} requested")
    chosen = {**embedded, **base, **exported}
    if exported:
        notes.append("exported by you: " + ", ".join(sorted(exported)))
    # The embedded mode's folders belong to this run directory: only where they are used.
    if not chosen["CELERY_BROKER_URL"].startswith("filesystem:"):
        del chosen["BROKER_FOLDER"]
    if chosen["REDIS_URL"]:
        del chosen["FILE_CACHE_DIR"]
    chosen["STACK_MODE"] = describe_mode(chosen)
    chosen["DJANGO_SETTINGS_MODULE"] = (
        environ.get("DJANGO_SETTINGS_MODULE") or "config.settings.dev"
    )
    chosen["WEB_CONCURRENCY"] = environ.get("WEB_CONCURRENCY") or "2"
    chosen["WORKER_CONCURRENCY"] = environ.get("WORKER_CONCURRENCY") or "2"
    chosen["SANDBOX_WEBHOOK_URL"] = environ.get("SANDBOX_WEBHOOK_URL") or layout.webhook_url
    for setting, url in sandbox_base_urls(layout.sandbox_url).items():
        chosen[setting] = environ.get(setting) or url
    return {key: chosen[key] for key in stack_keys() if key in chosen}, notes


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


def redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def write_stack_env(path: Path, env: Mapping[str, str], shown_as: str) -> None:
    """Write `env` to `path` (`shown_as`: the path as the comment names it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Written by scripts/stack.py up at {now_iso()}; read by demo, down, restart-worker.",
        f"# A shell can join the same stack with: set -a; . {shown_as}; set +a",
    ]
    lines += [f"{key}={shlex.quote(env[key])}" for key in stack_keys() if key in env]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def load_stack_env(path: Path) -> dict[str, str] | None:
    """The variables of the stack `up` started, or None if it never ran."""
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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
