"""`make bench-faults`: the load bench with something breaking in the middle. For each
provisioning fault: requests not terminal within two sweep periods after recovery (must
be 0), duplicate effects at the token service (must be 0), duplicate notifications (must
be 0). The transfers run (bench/transfer_faults.py) sends Visa Direct transfers through
payout faults and worker kills and audits every transfer's money.

    .venv/bin/python -m bench.faults                         # all four, defaults below
    .venv/bin/python -m bench.faults --quick                 # 120 requests each, 100 transfers
    .venv/bin/python -m bench.faults --scenarios worker-kill --rate 8 --seconds 30

Scenarios (loopback only; every one bounded in time):

  worker-kill     kill -9 the worker's process group at --at s (the dev stack's
                  kill-worker), start it again 2 s later (restart-worker)
  redis-restart   kill -9 the stack's own redis-server (broker and cache) at --at s and
                  start it again, empty, 2 s later
  token-faults    the sandbox's token service answers 30% 503 and hangs 5% of calls
                  (SANDBOX_SLOW_SECONDS=5 > the 3 s read timeout) for the whole load;
                  recovery is when the faults are cleared, at the end of the load
  transfers       500 transfers; payouts 25% 503, 5% hang, 5% lost answers; the worker
                  killed -9 at 3 random points; every transfer's ledger moves against
                  the network's payout (bench/transfer_faults.py)

In redis-restart and token-faults the worker has a supervisor, as in a deployment
(compose's `restart: unless-stopped`, the kubelet): a worker that exits by itself is
started again 2 s later, and the table counts those exits ("worker exits (restarted)")
beside the audit, which alone decides the pass.

Each scenario runs its own redis-server on a free port (so it can be restarted without
touching anyone else's Redis) and the bench's database. Beat is made quick for these runs:
RECONCILE_INTERVAL_SECONDS, the STUCK_*_SECONDS thresholds, the outbox drain (interval
and age) and STEP_UP_ACTIVATION_STUCK_SECONDS are all 5 s, the sending lease 10 s,
installed into beat's tables by `setup_periodic_tasks --reset`.

The sweep period P is how long beat needs to re-drive a request that stopped moving:
its STUCK threshold plus the interval, 10 s. A request passes when it is terminal within
2P of the later of the recovery and its own creation; the stricter reading (two sweep
*intervals*, 10 s) is reported beside it with the worst case, and the report explains
why the design bounds the first and not the second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devstack import Process, free_port, wait_until

from .common import (
    REPO,
    RESULTS,
    TERMINAL,
    BenchStack,
    connection_urls,
    git_state,
    loadavg,
    machine,
    now_iso,
    pg_connect,
    say,
    table,
    write_json,
)
from .loadgen import parse_mix
from .figures import series, summarize
from .phase import PhaseConfig, PhaseRun, run_phase, stack_env
from .plot import latency_figure
from . import transfer_faults

SWEEP_PERIOD_S = 5
FAULT_SETTINGS = {
    "RECONCILE_INTERVAL_SECONDS": str(SWEEP_PERIOD_S),
    "STUCK_RECEIVED_SECONDS": str(SWEEP_PERIOD_S),
    "STUCK_ELIGIBLE_SECONDS": str(SWEEP_PERIOD_S),
    "STUCK_TOKEN_REQUESTED_SECONDS": str(SWEEP_PERIOD_S),
    "STEP_UP_ACTIVATION_STUCK_SECONDS": str(SWEEP_PERIOD_S),
    "NOTIFICATION_DRAIN_INTERVAL_SECONDS": str(SWEEP_PERIOD_S),
    "NOTIFICATION_DRAIN_AFTER_SECONDS": str(SWEEP_PERIOD_S),
    "NOTIFICATION_SENDING_LEASE_SECONDS": str(2 * SWEEP_PERIOD_S),
    "SANDBOX_SLOW_SECONDS": "5",
}
SCENARIOS = ("worker-kill", "redis-restart", "token-faults", "transfers")


class RedisServer:
    """A private redis-server on a free loopback port; nothing kept on disk."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.process = Process(
            "redis-server", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            log, ready=lambda process: self.answers())

    def start(self) -> None:
        self.process.start(append=True)
        self.process.wait_ready(timeout=10, interval=0.05)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        self.process.kill(timeout=10)

    def stop(self) -> None:
        self.process.stop(grace=5)

    def urls(self) -> dict[str, str]:
        return {"DATABASE_URL": connection_urls()["DATABASE_URL"],
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.port}/0",
                "REDIS_URL": f"redis://127.0.0.1:{self.port}/1"}


def fault_during(scenario: str, at: float, outage: float, redis_server: RedisServer):
    """The fault, as a coroutine run beside the load; notes its times in run.events."""

    async def sleep_until(load, second: float) -> None:
        # Scenario timing ("the worker dies at T"), not a wait on a condition.
        delay = second - load.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def mark(run: PhaseRun, load, what: str, **extra) -> None:
        run.events.append({"at": round(load.now(), 3), "wall": time.time(), "what": what, **extra})
        say(f"{run.config.name}: {what} at {load.now():.1f} s")

    async def worker_kill(run: PhaseRun, load) -> None:
        await sleep_until(load, at)
        mark(run, load, "kill -9 worker")
        await asyncio.to_thread(run.stack.kill_worker)
        await sleep_until(load, at + outage)
        await asyncio.to_thread(run.stack.restart_worker)
        mark(run, load, "worker ready", recovery=True)

    async def redis_restart(run: PhaseRun, load) -> None:
        await sleep_until(load, at)
        mark(run, load, "kill -9 redis")
        await asyncio.to_thread(redis_server.kill)
        await sleep_until(load, at + outage)
        await asyncio.to_thread(redis_server.start)
        mark(run, load, "redis answers", recovery=True)

    async def token_faults(run: PhaseRun, load) -> None:
        sandbox = run.stack.sandbox
        await asyncio.to_thread(sandbox.set_fault, "token_service", error_rate=0.3,
                                timeout_rate=0.05, latency_ms=0)
        mark(run, load, "token service 30% 503, 5% hang")
        # Faults stay on while the load arrives; cleared once the last app has started.
        while load.arrivals_done is False:
            await asyncio.sleep(0.2)
        await asyncio.to_thread(sandbox.clear_faults)
        mark(run, load, "faults cleared", recovery=True)

    return {"worker-kill": worker_kill, "redis-restart": redis_restart,
            "token-faults": token_faults}[scenario]


def audit(run: PhaseRun, database_url: str, settle_timeout: float) -> dict[str, Any]:
    """Lost, late, duplicated: read from the database and the sandbox.

    A request's deadline is two sweep periods after the later of the recovery and its
    own creation (a request created after recovery owes nothing to the fault). The sweep
    period P is the time beat needs to re-drive a request that stopped moving: its STUCK
    threshold plus the sweep interval (5 s + 5 s here). The strict reading, two sweep
    *intervals* (10 s), is reported beside it with the worst lateness.
    """
    recovery = next((e["wall"] for e in run.events if e.get("recovery")), None)
    if recovery is None:
        return {"error": "the fault never recovered"}
    period = SWEEP_PERIOD_S + SWEEP_PERIOD_S  # STUCK threshold + interval

    def rows():
        with pg_connect(database_url) as conn:
            return [(r[0], r[1], float(r[2]), None if r[3] is None else float(r[3]))
                    for r in conn.execute(
                "SELECT pr.id::text, pr.state, extract(epoch FROM pr.created_at), "
                "(SELECT extract(epoch FROM min(tl.created_at)) FROM core_transitionlog tl"
                "  WHERE tl.machine = 'provisioning_request' AND tl.object_id = pr.id"
                "    AND tl.to_state = ANY(%s)) "
                "FROM provisioning_provisioningrequest pr "
                "WHERE pr.created_at >= to_timestamp(%s)", (list(TERMINAL), run.started_wall)
            ).fetchall()]

    def due(row, span: float) -> float:
        return max(recovery, row[2]) + span

    def settled():
        found = rows()
        return found if found and all(r[1] in TERMINAL for r in found) else None

    # Poll until every request is terminal, or the last deadline has passed.
    first = rows()
    remaining = max((due(r, 2 * period) for r in first), default=time.time()) - time.time()
    if remaining > 0:
        try:
            wait_until(settled, timeout=remaining, interval=0.5, message="all terminal")
        except TimeoutError:
            pass
    at_deadline = rows()
    late = [r for r in at_deadline if r[3] is None or r[3] > due(r, 2 * period)]
    late_strict = [r for r in at_deadline if r[3] is None or r[3] > due(r, 2 * SWEEP_PERIOD_S)]
    eventually = at_deadline
    if late:  # slow, or stranded for good?
        try:
            eventually = wait_until(settled, timeout=settle_timeout, interval=1.0,
                                    message="stragglers")
        except TimeoutError:
            eventually = rows()
    stranded = [r for r in eventually if r[1] not in TERMINAL]
    lateness = [r[3] - due(r, 0) for r in eventually if r[3] is not None]
    with pg_connect(database_url) as conn:
        duplicate_rows = conn.execute(
            "SELECT count(*) FROM (SELECT object_id, template_key FROM notifications_notification "
            "WHERE template_key <> 'step_up_code' GROUP BY 1, 2 HAVING count(*) > 1) d").fetchone()[0]
        notifications = dict(conn.execute(
            "SELECT status, count(*) FROM notifications_notification GROUP BY 1").fetchall())
        worst = sorted(eventually, key=lambda r: (r[3] or 1e12) - due(r, 0))[-5:]
        timelines = {
            r[0]: [f"{row[3]:+.2f}s {row[0]}->{row[1]} by {row[2]}" for row in conn.execute(
                "SELECT from_state, to_state, trigger, extract(epoch FROM created_at) - %s "
                "FROM core_transitionlog WHERE object_id = %s::uuid ORDER BY id",
                (recovery, r[0])).fetchall()]
            for r in worst
        }
    stats = run.stack.sandbox.stats()
    idem, messages = stats.get("idempotency", {}), stats.get("messages", {})
    states: dict[str, int] = {}
    for r in eventually:
        states[r[1]] = states.get(r[1], 0) + 1
    return {
        "recovery_at_s": round(recovery - run.started_wall, 2),
        "sweep_period_s": period,
        "requests": len(at_deadline),
        "created_before_recovery": sum(1 for r in at_deadline if r[2] < recovery),
        "not_terminal_within_2_periods": len(late),
        "not_terminal_within_2_intervals": len(late_strict),
        "stranded_after_settle": len(stranded),
        "max_s_to_terminal_after_recovery_or_creation": round(max(lateness), 2)
        if lateness else None,
        "worst_timelines_relative_to_recovery": timelines,
        "final_states": states,
        "duplicate_effects": idem.get("duplicate_effects"),
        "request_ids_with_multiple_tokens": len(idem.get("request_ids_with_multiple_tokens") or {}),
        "duplicate_notification_references": messages.get("duplicate_references"),
        "duplicated_references": messages.get("duplicated"),
        "duplicate_notification_rows": duplicate_rows,
        "notifications_by_status": notifications,
        "sandbox_faults": stats.get("faults"),
        "replays": idem.get("replays"),
    }


# How long a deployed worker's supervisor waits before starting an exited worker again
# (compose's `restart: unless-stopped` at once, the kubelet's first back-off 10 s).
WORKER_RESTART_DELAY_S = 2.0


class WorkerSupervisor:
    """What compose's `restart: unless-stopped` and the kubelet do for a deployed worker:
    a worker that exits by itself during a scenario (not one the scenario kills) is
    started again after WORKER_RESTART_DELAY_S. Every exit is reported with the last
    CRITICAL line of the worker's log: a restart is not a pass by itself, the audit of
    the requests still decides."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.exits: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor",
                                        daemon=True)

    def start(self) -> WorkerSupervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _watch(self) -> None:
        seen_alive = False
        while not self._stop.wait(0.5):
            if self.stack.worker_alive():
                seen_alive = True
                continue
            if not seen_alive:  # not started yet
                continue
            seen_alive = False
            self.exits.append({"wall": time.time(), "critical": self._last_critical()})
            say(f"worker exited by itself; its supervisor starts it again in "
                f"{WORKER_RESTART_DELAY_S:g} s ({self.exits[-1]['critical'][:160]})")
            if self._stop.wait(WORKER_RESTART_DELAY_S):
                return
            self.stack.restart_worker()

    def _last_critical(self) -> str:
        try:
            lines = self.stack.log("worker").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        critical = [line for line in lines if "CRITICAL" in line]
        if not critical:
            return ""
        try:
            return str(json.loads(critical[-1]).get("message", ""))[:300]
        except ValueError:
            return critical[-1][:300]


def run_scenario(scenario: str, args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    redis_server = RedisServer(REPO / "var" / "bench" / f"redis-{scenario}.log")
    redis_server.start()
    try:
        config = PhaseConfig(
            name=f"fault-{scenario}", count=int(args.rate * args.seconds), mix=parse_mix(args.mix),
            concurrency=None, rate=args.rate, web_concurrency=args.web,
            worker_concurrency=args.workers, poll_interval=args.poll, app_deadline=180.0,
            warmup=10, connections=redis_server.urls(), extra_env=dict(FAULT_SETTINGS),
            quiesce_timeout=60.0,
        )
        stack = BenchStack(config.name, stack_env(config))
        # worker-kill kills and restarts the worker itself.
        supervisor = WorkerSupervisor(stack).start() if scenario != "worker-kill" else None
        try:
            run = run_phase(config, during=fault_during(scenario, args.at, args.outage,
                                                        redis_server),
                            stack=stack, keep_up=True)
            verdict = audit(run, config.urls["DATABASE_URL"], settle_timeout=60.0)
        finally:
            if supervisor is not None:
                supervisor.stop()
            stack.down()
        verdict["worker_exits_restarted"] = len(supervisor.exits) if supervisor else 0
        summary = summarize(run)
        summary["cpu_note"] = "not comparable: a restarted process is a new tree"
        data = series(run)
        data["events"] = run.events
        return {"scenario": scenario, "verdict": verdict, "summary": summary, "series": data,
                "worker_exits": supervisor.exits if supervisor else []}
    finally:
        redis_server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--rate", type=float, default=8.0, help="arrivals per second (8)")
    parser.add_argument("--seconds", type=float, default=40.0, help="arrivals for this long (40)")
    parser.add_argument("--at", type=float, default=15.0, help="fault at this second (15)")
    parser.add_argument("--outage", type=float, default=2.0,
                        help="seconds between the kill and the restart (2)")
    parser.add_argument("--mix", default=None)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs: 15 s of provisioning arrivals, 100 transfers")
    transfer_faults.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 15.0)
        args.at = min(args.at, 6.0)
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if set(wanted) - set(SCENARIOS):
        raise SystemExit(f"scenarios are {', '.join(SCENARIOS)}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    result: dict[str, Any] = {"bench": "faults", "started": now_iso(), "machine": machine(),
                              "git": git_state(), "command": " ".join(
                                  ["python -m bench.faults", *(argv or sys.argv[1:])]),
                              "sweep_period_s": SWEEP_PERIOD_S, "fault_settings": FAULT_SETTINGS,
                              "scenarios": {}}
    figures = []
    for scenario in wanted:
        say(f"scenario {scenario}")
        if scenario == "transfers":
            result["scenarios"][scenario] = transfer_faults.run_transfers(args)
        else:
            outcome = run_scenario(scenario, args, args.out)
            figures.append((scenario, outcome.pop("series")))
            result["scenarios"][scenario] = outcome
        write_json(args.out / f"faults-{stamp}.json", result)
    result["finished"] = now_iso()
    result["machine"]["loadavg_at_end"] = loadavg()
    path = write_json(args.out / f"faults-{stamp}.json", result)
    png = latency_figure(figures, args.out / f"faults-{stamp}.png",
                         title=f"faults {stamp}") if figures else None
    rows = []
    for scenario, outcome in result["scenarios"].items():
        if scenario == "transfers":
            continue
        v = outcome["verdict"]
        rows.append([scenario, v.get("requests"), v.get("created_before_recovery"),
                     v.get("recovery_at_s"), v.get("not_terminal_within_2_periods"),
                     v.get("not_terminal_within_2_intervals"), v.get("stranded_after_settle"),
                     v.get("max_s_to_terminal_after_recovery_or_creation"),
                     v.get("duplicate_effects"),
                     v.get("request_ids_with_multiple_tokens"),
                     v.get("duplicate_notification_references"),
                     v.get("duplicate_notification_rows"), v.get("worker_exits_restarted"),
                     ", ".join(f"{k} {n}" for k, n in sorted(v.get("final_states", {}).items()))])
    print()
    if rows:
        print(table(["scenario", "requests", "before recovery", "recovered at s",
                     f"late > 2P ({4 * SWEEP_PERIOD_S} s)",
                     f"late > 2 intervals ({2 * SWEEP_PERIOD_S} s)",
                     "stranded", "worst s", "dup effects", "multi-token ids",
                     "dup notif refs", "dup notif rows", "worker exits (restarted)",
                     "final states"], rows))
    if "transfers" in result["scenarios"]:
        verdict = result["scenarios"]["transfers"]["verdict"]
        print(json.dumps({k: v for k, v in verdict.items() if k != "events"}, indent=2,
                         default=str))
        print(table(transfer_faults.TABLE_HEADER, [transfer_faults.table_row(verdict)]))
        for item in verdict["needs_attention"]:
            print(f"  needs_attention {item['transfer_id']}: network {item['network']}, "
                  f"hold {'open' if item['hold_open'] else 'settled'}; {item['operations_would']}")
    print(f"\nresults: {path}" + (f"\nplot:    {png}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
