"""One measured phase of the load bench: start a stack, set up the apps, drive them, then
read what happened from the clients, the database, the sandbox and the worker log.

Used by bench/run.py (throughput, latency, CPU, floor) and bench/faults.py (the same
load with a fault injected in the middle); the figures of a finished phase are
bench/figures.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import wait_until

from .common import (
    REPO,
    TERMINAL,
    TRANSFER_TERMINAL,
    BenchStack,
    connection_urls,
    flush_redis,
    loadavg,
    percentiles,
    say,
    truncate_app_tables,
)
from .cpu import CpuMeter, wait_for_quiet
from .loadgen import App, Load, Trace, make_apps
from .memory import SOAK_WARMUP_S, RssSampler

# --- tokens ---------------------------------------------------------------------------

_TOKENS: dict[str, str] = {}


def django_ready() -> None:
    """Django in this process, for minting dev bearer tokens and reading results."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ.update(connection_urls())
    django.setup()


def mint_tokens(apps: Sequence[App]) -> None:
    django_ready()  # before the import: core.auth loads DRF, which reads the settings
    from core.auth import mint_dev_token

    for app in apps:
        if app.customer_id not in _TOKENS:
            _TOKENS[app.customer_id] = mint_dev_token(app.customer_id, lifetime_seconds=4 * 3600)
        app.token = _TOKENS[app.customer_id]


# --- the phase --------------------------------------------------------------------------


@dataclass
class PhaseConfig:
    name: str
    count: int
    mix: dict[str, float]
    web_concurrency: int = 2
    worker_concurrency: int = 2
    concurrency: int | None = 64  # closed loop: apps in flight
    rate: float | None = None  # open loop: arrivals per second
    poll_interval: float = 0.5
    app_deadline: float = 120.0
    floor_hops: int | None = None  # set: the floor (bench.settings, floor apps)
    flow: str = "provisioning"  # or "transfers" (Visa Direct), when floor_hops is None
    warmup: int = 40
    settings_module: str = "config.settings.dev"
    extra_env: dict[str, str] = field(default_factory=dict)
    quiesce_timeout: float = 90.0
    profile_dir: Path | None = None  # set: pyinstrument in web and worker processes
    profile_mode: str = "cpu"  # or "pyinstrument" (bench/profiling.py)
    read_probe: int = 1000  # reads of finished requests after the run, to price one poll
    wait_quiet: bool = False  # wait (bounded) for other people's CPU load to pass first
    connections: dict[str, str] | None = None  # default: common.connection_urls()
    rss_interval: float = 1.0  # s between looks at the processes' memory (bench/memory.py)
    rss_warmup_s: float = SOAK_WARMUP_S  # growth is judged from this far into the window

    @property
    def urls(self) -> dict[str, str]:
        return self.connections or connection_urls()


@dataclass
class PhaseRun:
    config: PhaseConfig
    stack: BenchStack
    traces: list[Trace] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    started_wall: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)
    events: list[dict[str, Any]] = field(default_factory=list)
    db: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: Counter = field(default_factory=Counter)
    sandbox_before: dict[str, Any] = field(default_factory=dict)
    sandbox_after: dict[str, Any] = field(default_factory=dict)
    loadavg_before: list[float] = field(default_factory=list)
    loadavg_after: list[float] = field(default_factory=list)
    quiesced: bool = True
    quiet: dict[str, Any] = field(default_factory=dict)
    read_probe: dict[str, Any] = field(default_factory=dict)
    rss: dict[str, list] = field(default_factory=dict)  # role -> samples (bench/memory.py)


def stack_env(config: PhaseConfig) -> dict[str, str]:
    env = {
        **config.urls,
        "DJANGO_SETTINGS_MODULE": config.settings_module,
        "WEB_CONCURRENCY": str(config.web_concurrency),
        "WORKER_CONCURRENCY": str(config.worker_concurrency),
        # Production-like: no debug pages, no query log kept in memory per request.
        "DJANGO_DEBUG": "false",
        # One trusted proxy: each simulated app shows its own client address.
        "TRUSTED_PROXY_COUNT": "1",
        **config.extra_env,
    }
    if config.profile_dir is not None:
        config.profile_dir.mkdir(parents=True, exist_ok=True)
        env["BENCH_PROFILE_DIR"] = str(config.profile_dir)  # read by bench/settings.py
        env["BENCH_PROFILE_MODE"] = config.profile_mode
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Migrate, and install beat's schedules from this phase's settings (they live in the
    database, so a phase with other intervals must not inherit the last one's)."""
    for command in (["migrate", "--noinput"], ["setup_periodic_tasks", "--reset"]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=REPO,
                                env={**os.environ, **env}, capture_output=True, text=True,
                                timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def worker_task_counts(log: Path, offset: int) -> Counter:
    """Tasks that ran (succeeded or asked for a retry) after `offset` in the worker log."""
    counts: Counter = Counter()
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            for raw in handle:
                if b"celery.app.trace" not in raw:
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                data = line.get("data") or {}
                message = line.get("message", "")
                name = data.get("name", "?").rsplit(".", 1)[-1]
                if " succeeded in " in message:
                    counts[name] += 1
                elif " retry: " in message:
                    counts[f"{name} (retry)"] += 1
    except OSError:
        pass
    return counts


def broker_idle(broker_url: str) -> bool:
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=2)
    try:
        queued = sum(client.llen(q) for q in ("provisioning", "tokens", "notifications",
                                              "transfers"))
        unacked = client.hlen("unacked")
    finally:
        client.close()
    return queued == 0 and unacked == 0


def outbox_idle(database_url: str) -> bool:
    from .common import pg_connect

    with pg_connect(database_url) as conn:
        pending = conn.execute("SELECT count(*) FROM notifications_notification "
                               "WHERE status IN ('pending', 'sending')").fetchone()[0]
    return pending == 0


# Each flow's rows, and the transition-log machine whose first terminal move ends one.
FLOW_TABLES = {"provisioning": ("provisioning_provisioningrequest", "provisioning_request",
                                TERMINAL),
               "transfers": ("transfers_transfer", "transfer", TRANSFER_TERMINAL)}


def read_database(database_url: str, traces: Sequence[Trace], floor: bool,
                  flow: str = "provisioning") -> dict[str, dict]:
    """Per request: final state, and when it became terminal (server clock, epoch seconds)."""
    from .common import pg_connect

    ids = [t.request_id for t in traces if t.request_id]
    if not ids:
        return {}
    with pg_connect(database_url) as conn:
        if floor:
            rows = conn.execute(
                "SELECT id::text, state, extract(epoch FROM created_at), "
                "CASE WHEN state = 'done' THEN extract(epoch FROM updated_at) END "
                "FROM bench_floor_floorrow WHERE id = ANY(%s::uuid[])", (ids,)).fetchall()
        else:
            table, machine, terminal = FLOW_TABLES[flow]
            rows = conn.execute(
                "SELECT pr.id::text, pr.state, extract(epoch FROM pr.created_at), "
                "(SELECT extract(epoch FROM min(tl.created_at)) FROM core_transitionlog tl "
                " WHERE tl.machine = %s AND tl.object_id = pr.id "
                "   AND tl.to_state = ANY(%s)) "
                f"FROM {table} pr WHERE pr.id = ANY(%s::uuid[])",
                (machine, list(terminal), ids)).fetchall()
    return {row[0]: {"state": row[1], "created": float(row[2]),
                     "terminal": float(row[3]) if row[3] is not None else None} for row in rows}


async def _drive(load: Load, config: PhaseConfig, apps: list[App], warm: list[App],
                 during: Callable[[PhaseRun], Any] | None, run: PhaseRun) -> None:
    async with load:
        await load.setup([*warm, *apps])
        if warm:
            # Warm-up: each process imports, connects and fills its caches before we
            # measure; its apps are not counted.
            await load.closed_loop(warm, concurrency=min(len(warm), 16))
        if config.wait_quiet:
            run.quiet = await asyncio.to_thread(wait_for_quiet)
            say(f"{config.name}: machine busy {run.quiet['busy_cores_before']} cores "
                f"before the window (waited {run.quiet['waited_s']} s)")
        meter = CpuMeter(run.stack)
        offset = run.stack.log("worker").stat().st_size if run.stack.log("worker").exists() else 0
        run.sandbox_before = run.stack.sandbox.stats()
        run.loadavg_before = loadavg()
        load.t0 = time.monotonic()
        run.started_wall = time.time()
        meter.start()
        sampler = RssSampler.of_stack(run.stack, interval=config.rss_interval)
        sampler.start()
        fault = asyncio.create_task(during(run, load)) if during else None
        if config.rate:
            run.traces = await load.open_loop(apps, config.rate)
        else:
            run.traces = await load.closed_loop(apps, config.concurrency or 64)
        if fault is not None:
            await fault
        end = load.now()
        # Let what the requests started finish (the provisioned push is sent after the
        # request is terminal) before reading the CPU counters.
        urls = config.urls
        try:
            await asyncio.to_thread(
                wait_until,
                lambda: broker_idle(urls["CELERY_BROKER_URL"]) and (
                    config.floor_hops is not None or outbox_idle(urls["DATABASE_URL"])),
                config.quiesce_timeout, 0.25, "queues and outbox to drain")
        except TimeoutError:
            run.quiesced = False
        run.cpu = meter.stop()
        run.rss = sampler.stop()
        run.cpu["cpu_window_s"] = load.now()
        run.window = (0.0, end)
        run.loadavg_after = loadavg()
        run.tasks = worker_task_counts(run.stack.log("worker"), offset)
        if config.read_probe and not during:
            run.read_probe = await read_probe(load, run, config.read_probe)


async def read_probe(load: Load, run: PhaseRun, count: int) -> dict[str, Any]:
    """Web CPU for one read of a finished request (what one poll costs) and for one create,
    so the provisioning's own CPU can be told apart from how often its app polls."""
    done = [t for t in run.traces if t.request_id and t.terminal_seen_at is not None]
    if not done:
        return {}
    floor = run.config.floor_hops is not None
    transfers = not floor and run.config.flow == "transfers"
    semaphore = asyncio.Semaphore(16)
    reads: list = []
    polls: list = []
    creates: list = []
    etags: dict[str, str] = {}  # the ETag each full read answered, for the 304 polls

    def path_of(trace: Trace) -> str:
        return (f"/bench/floor/rows/{trace.request_id}" if floor
                else f"/api/v1/transfers/{trace.request_id}" if transfers
                else f"/api/v1/provisioning-requests/{trace.request_id}")

    async def read(index: int) -> None:
        trace = done[index % len(done)]
        async with semaphore:
            response = await load._timed(reads, "GET", load.api_url + path_of(trace),
                                         headers=load.headers(trace.app))
        if response is not None and response.headers.get("ETag"):
            etags[trace.request_id] = response.headers["ETag"]

    async def poll(index: int) -> None:
        # A poll as the app sends it: with the last ETag, answered 304 while nothing moved.
        trace = done[index % len(done)]
        extra = {"If-None-Match": etags[trace.request_id]} if trace.request_id in etags else {}
        async with semaphore:
            await load._timed(polls, "GET", load.api_url + path_of(trace),
                              headers=load.headers(trace.app, **extra))

    async def create(index: int) -> None:
        # A new device for an app whose card exists: one more real provisioning (its
        # worker side runs too, but only the web's CPU is read here).
        app = done[index % len(done)].app
        if floor:
            url, body = load.api_url + "/bench/floor/rows", {"hops": run.config.floor_hops}
        elif transfers:
            url, body = load.api_url + "/api/v1/transfers", {"quote_id": quotes[index]}
        else:
            url = load.api_url + "/api/v1/provisioning-requests"
            body = {"card_id": app.card_id, "wallet": "google_pay",
                    "device": {"id": f"{app.device_id}-p{index}", "type": "phone",
                               "os": "android-15"}}
        async with semaphore:
            await load._timed(creates, "POST", url, json=body, headers=load.headers(
                app, **{"Idempotency-Key": f"probe-{index}-{app.device_id}"}))

    meter = CpuMeter(run.stack)
    meter.start()
    await asyncio.gather(*(read(i) for i in range(count)))
    read_cpu = meter.stop()
    poll_cpu: dict[str, float] = {}
    if etags:  # an endpoint without validators (the floor's) has no 304 to price
        meter = CpuMeter(run.stack)
        meter.start()
        await asyncio.gather(*(poll(i) for i in range(count)))
        poll_cpu = meter.stop()
    creates_wanted = max(count // 5, 1)
    # A quote is used once: the probe's sends get theirs before the meter starts.
    quotes = await asyncio.gather(*(load.new_quote(done[i % len(done)].app)
                                    for i in range(creates_wanted))) if transfers else []
    meter = CpuMeter(run.stack)
    meter.start()
    await asyncio.gather(*(create(i) for i in range(creates_wanted)))
    create_cpu = meter.stop()
    read_ok = sum(1 for (_, _, status) in reads if status == 200)
    create_ok = sum(1 for (_, _, status) in creates if status in (200, 201, 202))
    polls_304 = sum(1 for (_, _, status) in polls if status == 304)
    return {"reads": count, "ok": read_ok,
            "web_cpu_ms_per_read": round(read_cpu["web"] * 1000 / max(read_ok, 1), 3),
            "latency_s": percentiles([lat for (_, lat, status) in reads if status == 200]),
            "creates": creates_wanted, "creates_ok": create_ok,
            "web_cpu_ms_per_create": round(create_cpu["web"] * 1000 / max(create_ok, 1), 3),
            # The same reads sent with If-None-Match (None: the endpoint gave no ETag).
            "polls": len(polls), "polls_304": polls_304,
            # Priced over all the polls, when (nearly) all were 304s: a row moved since
            # its full read answers 200 and costs a little more.
            "web_cpu_ms_per_poll_304": round(poll_cpu["web"] * 1000 / len(polls), 3)
            if poll_cpu and polls_304 >= 0.9 * len(polls) else None,
            "poll_304_latency_s": percentiles([lat for (_, lat, status) in polls
                                               if status == 304])}


def run_phase(config: PhaseConfig,
              during: Callable[[PhaseRun, Load], Any] | None = None,
              stack: BenchStack | None = None, keep_up: bool = False) -> PhaseRun:
    """Fresh tables and broker, a fresh stack, the load, and everything read back.

    `during(run, load)` is a coroutine run beside the load (the fault runs); with
    `keep_up` the stack is left running for the caller to inspect and stop (on success).
    """
    urls = config.urls
    env = stack.env if stack else stack_env(config)
    prepare_database(env)
    truncate_app_tables(urls["DATABASE_URL"])
    flush_redis(urls["REDIS_URL"])
    flush_redis(urls["CELERY_BROKER_URL"])
    stack = stack or BenchStack(config.name, env)
    say(f"{config.name}: starting the stack (web {config.web_concurrency}, "
        f"worker {config.worker_concurrency}, {config.settings_module})")
    run = PhaseRun(config=config, stack=stack)
    try:
        stack.up()
        floor = config.floor_hops is not None
        apps = make_apps(config.count, config.mix, run_tag=config.name)
        warm = make_apps(config.warmup, config.mix, run_tag=f"{config.name}w", seed=3)
        for app in warm:
            app.customer_id = f"warm_{app.customer_id}"
        mint_tokens([*apps, *warm])
        load = Load(stack.web_url, stack.sandbox_url, poll_interval=config.poll_interval,
                    app_deadline=config.app_deadline,
                    floor_hops=config.floor_hops if floor else None, flow=config.flow)
        mode = f"rate {config.rate:.1f}/s" if config.rate else f"{config.concurrency} apps"
        what = "floor rows" if floor else "transfers" if config.flow == "transfers" else "provisionings"
        say(f"{config.name}: {config.count} {what}, {mode}")
        asyncio.run(_drive(load, config, apps, warm, during, run))
        run.db = read_database(urls["DATABASE_URL"], run.traces, floor, config.flow)
        run.sandbox_after = stack.sandbox.stats()
    except BaseException:
        stack.down()
        raise
    if not keep_up:
        stack.down()
    return run
