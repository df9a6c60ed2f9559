"""What every bench script shares: the bench stack (the dev stack of `devstack` on free
ports and a private run directory), the machine's description, percentiles, tables, and
the results directory. CPU accounting of the stack's process trees is in cpu.py.

Defaults keep the bench off other people's data: database `pp_bench`, Redis DBs 6 (cache)
and 7 (broker); override with BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_BROKER_URL.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from devstack import Layout, SandboxClient, Stack, StackError, free_port, sandbox_base_urls

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/pp_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/7"
TERMINAL = ("ineligible", "provisioned", "declined", "failed", "expired", "cancelled")
TRANSFER_TERMINAL = ("completed", "declined", "rejected", "cancelled", "needs_attention")
SERVICE_PROCESSES = ("web", "worker", "beat")


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- connections ------------------------------------------------------------------------


def connection_urls() -> dict[str, str]:
    return {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL),
    }


def redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


def pg_connect(database_url: str, dbname: str | None = None, autocommit: bool = True):
    import environ
    import psycopg

    config = environ.Env.db_url_config(database_url)
    params = {
        "dbname": dbname or config["NAME"],
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    params = {key: value for key, value in params.items() if value}
    return psycopg.connect(autocommit=autocommit, connect_timeout=5, **params)


def database_name(database_url: str) -> str:
    import environ

    return environ.Env.db_url_config(database_url)["NAME"]


def recreate_database(database_url: str) -> None:
    """Drop and create the bench's own database (never anything but the named one)."""
    from psycopg import sql

    name = database_name(database_url)
    if not name.startswith("pp_bench"):
        raise SystemExit(f"refusing to drop {name!r}: bench databases are named pp_bench*")
    with pg_connect(database_url, dbname="postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# What the migrations install and the service reads as configuration, kept across phases:
# the decisioning rules (and their versions and change history) and the fee schedules.
# A phase without them would measure a service with no rules to run and no fee to price.
KEPT_TABLES = ("decisioning_decisionrule", "decisioning_decisionruleversion",
               "decisioning_rulechange", "transfers_feeschedule")
# Emptied by a trigger when its table is truncated (the outbox's de-duplication keys, ADR
# 0014); naming it in the same TRUNCATE makes that trigger fail ("being used by active
# queries in this session").
EMPTIED_BY_TRIGGER = ("notifications_notification_key",)


def truncate_app_tables(database_url: str) -> None:
    """Empty the service's (and the floor's) tables; keep migrations, beat schedules and
    the configuration the migrations installed (KEPT_TABLES)."""
    with pg_connect(database_url) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND ("
            "tablename LIKE 'provisioning\\_%%' OR tablename LIKE 'tokens\\_%%' OR "
            "tablename LIKE 'notifications\\_%%' OR tablename LIKE 'bench\\_floor\\_%%' OR "
            "tablename LIKE 'decisioning\\_%%' OR tablename LIKE 'transfers\\_%%') "
            "AND tablename <> ALL(%s)", (list(KEPT_TABLES + EMPTIED_BY_TRIGGER),))]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


# --- the stack --------------------------------------------------------------------------


@dataclass
class BenchStack:
    """The dev stack (devstack.Stack) on free ports with its own run directory,
    var/bench/<name>/ (pids, logs, stack.env), so a `make up` in the same checkout and
    the bench never see each other."""

    name: str
    env: dict[str, str]
    web_port: int = field(default_factory=free_port)
    sandbox_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.layout = Layout(run_dir=REPO / "var" / "bench" / self.name,
                             web_port=self.web_port, sandbox_port=self.sandbox_port)
        self.var_dir = self.layout.run_dir
        self.web_url = self.layout.web_url
        self.sandbox_url = self.layout.sandbox_url
        self.sandbox = SandboxClient(self.sandbox_url)
        self.env = {
            **self.env,
            **sandbox_base_urls(self.sandbox_url),
            "SANDBOX_WEBHOOK_URL": self.layout.webhook_url,
            "STACK_MODE": "services",
        }
        # What the stack says is kept, and shown only when something fails.
        self.lines: list[str] = []
        self.stack = Stack(self.layout, environ={**os.environ, **self.env},
                           say=self.lines.append)

    def _failed(self, what: str, error: Exception | None = None) -> RuntimeError:
        log = getattr(error, "log", None)
        detail = f"\n--- {log} log ---\n{self.stack.process(log).tail()}" if log else ""
        return RuntimeError(f"{what}: {error or ''}\n" + "\n".join(self.lines) + detail)

    def up(self) -> None:
        if self.var_dir.exists():
            shutil.rmtree(self.var_dir / "run", ignore_errors=True)
        try:
            self.stack.up("services")
        except StackError as error:
            raise self._failed("stack up failed", error) from None
        for process in SERVICE_PROCESSES:
            self.verify_environment(process)

    def down(self) -> None:
        if not self.stack.down():
            say(f"stack down: {' / '.join(self.lines[-3:])}")

    def kill_worker(self) -> None:
        if not self.stack.kill_worker():
            raise self._failed("kill-worker failed")

    def restart_worker(self) -> None:
        if not self.stack.restart_worker():
            raise self._failed("restart-worker failed")
        self.verify_environment("worker")

    def verify_environment(self, process: str) -> None:
        """The process runs on our database and broker, or it is killed at once: a worker
        started with someone else's connection variables would work on their queue."""
        pid = self.pid(process)
        try:
            raw = Path(f"/proc/{pid}/environ").read_bytes() if pid else b""
        except OSError:
            return  # gone already, or no /proc
        seen = dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0")
                    if "=" in item)
        wrong = [key for key in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")
                 if seen.get(key) != self.env.get(key)]
        if wrong:
            os.killpg(pid, signal.SIGKILL)
            raise RuntimeError(f"{process} (group {pid}) started with other {', '.join(wrong)} "
                               f"than the bench's: killed it")

    def pid(self, process: str) -> int | None:
        return self.stack.process(process).running_pid()

    def log(self, process: str) -> Path:
        return self.layout.log_file(process)

    def worker_alive(self) -> bool:
        return self.stack.process("worker").running_pid() is not None

    def __enter__(self) -> BenchStack:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()


# --- statistics -------------------------------------------------------------------------


def percentiles(values: Sequence[float], points: Iterable[int] = (50, 95, 99)) -> dict[str, float | None]:
    import numpy

    if not values:
        return {f"p{p}": None for p in points}
    array = numpy.asarray(values, dtype=float)
    return {f"p{p}": float(numpy.percentile(array, p)) for p in points}


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.rjust(w) if index and i else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the machine ------------------------------------------------------------------------


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name, argv in (("postgresql", ["psql", "--version"]),
                       ("redis", ["redis-server", "--version"])):
        try:
            versions[name] = subprocess.run(argv, capture_output=True, text=True,
                                            timeout=5).stdout.strip()
        except OSError:
            versions[name] = "unknown"
    try:
        with pg_connect(connection_urls()["DATABASE_URL"], dbname="postgres") as conn:
            versions["postgresql_server"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:  # only descriptive
        versions["postgresql_server"] = f"unknown ({type(exc).__name__})"
    return {
        "cpu_model": model,
        "logical_cpus": psutil.cpu_count(),
        "physical_cpus": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        **versions,
        "loadavg_at_start": loadavg(),
    }


def git_state() -> dict[str, Any]:
    if os.environ.get("BENCH_SOURCE_COMMIT"):  # a `git archive` snapshot has no .git
        return {"commit": os.environ["BENCH_SOURCE_COMMIT"], "source": "git archive snapshot"}
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except OSError:
            return ""

    dirty = [line for line in git("status", "--porcelain").splitlines()
             if not line[3:].startswith("bench/") and not line[3:].startswith("docs/perf")]
    return {"commit": git("rev-parse", "HEAD"), "dirty_files_outside_bench": dirty}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
