"""`make bench-scale`: beat's sweeps against 10,000 and 1,000,000 provisioning rows, of
which the same 1,000 are stuck. Time per sweep, queries per sweep, peak memory, and the
query plans (EXPLAIN ANALYZE) that show the partial index doing the work.

    .venv/bin/python -m bench.scale                       # 10k and 1M rows
    .venv/bin/python -m bench.scale --sizes 10000,100000 --repeat 2
    .venv/bin/python -m bench.scale --sizes "" --log-rows 10000,1000000,10000000

With --log-rows, each size also runs in a child of its own: 10,000 provisioning rows, the
transition log at that many rows and the outbox at a tenth as many (sent), spread over 12
monthly partitions, plus 1,000 pending outbox rows overdue for the drain. Per round: the
three sweeps and the outbox drain, then 300 log rows and 300 outbox rows written through
the ORM as the service writes them (median and p95 per insert, queries per insert).

The table is filled server-side (INSERT ... SELECT generate_series, bench/scale_fill.py)
in a scratch database (`pp_bench_scale`, dropped and created), then each size is
measured in a fresh child process so its memory high-water mark is its own. The sweeps are the service's own
functions (`redrive_due_requests`, `sweep_step_ups`, `erase_expired_wallet_payloads`),
run in the child with Celery's publishing replaced by a counter: no broker, no worker,
every follow-up task they would enqueue is counted instead.

Stuck set (same 1,000 ids at every size): 250 each in received, eligible and
token_requested with `due_at` in the past (re-drive sweep), 250 in step_up_required
with the code expired (step-up sweep). The rest: terminal rows (due_at NULL, payload
erased) plus 0.1% in flight and not yet due.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from .common import (
    REPO,
    RESULTS,
    connection_urls,
    git_state,
    loadavg,
    machine,
    now_iso,
    recreate_database,
    redact,
    say,
    table,
    write_json,
)
from .scale_fill import STUCK, fill, fill_log_and_outbox, reset_stuck, reset_stuck_keeping_log

SCRATCH_DB = "pp_bench_scale"


def scratch_url() -> str:
    base = connection_urls()["DATABASE_URL"]
    head, _, _ = base.rpartition("/")
    return os.environ.get("BENCH_SCALE_DATABASE_URL", f"{head}/{SCRATCH_DB}")


# --- measuring (child) ------------------------------------------------------------------------


class Recorder:
    """Counts queries, and keeps the claim queries (FOR UPDATE SKIP LOCKED) to explain."""

    def __init__(self) -> None:
        self.queries = 0
        self.claims: dict[str, tuple[str, Any]] = {}

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        if sql.startswith("SELECT") and ("SKIP LOCKED" in sql or
                                         '"wallet_payload_expires_at" <=' in sql):
            self.claims.setdefault(sql, (sql, params))
        return execute(sql, params, many, context)


def measure_sweep(name: str, function, recorder: Recorder, enqueued: list) -> dict[str, Any]:
    """Call the sweep until it finds nothing; time, queries and peak Python memory per call
    (memory only when tracemalloc runs: the memory round is not a timing round)."""
    calls = []
    for _ in range(50):  # bounded: 1,000 stuck rows take 5 calls of 200
        recorder.queries = 0
        enqueued.clear()
        tracing = tracemalloc.is_tracing()
        if tracing:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        outcome = function()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - base if tracing else 0
        handled = outcome if isinstance(outcome, int) else sum(
            v for k, v in outcome.items() if isinstance(v, int))
        calls.append({"seconds": elapsed, "handled": handled, "queries": recorder.queries,
                      "enqueued": len(enqueued), "peak_python_bytes": peak})
        if not handled:
            break
    busy = [c for c in calls if c["handled"]]
    return {
        "sweep": name,
        "calls": calls,
        "rows_handled": sum(c["handled"] for c in busy),
        "busy_calls": len(busy),
        "seconds_total": sum(c["seconds"] for c in busy),
        "seconds_per_busy_call_max": max((c["seconds"] for c in busy), default=None),
        "seconds_per_row": (sum(c["seconds"] for c in busy) / sum(c["handled"] for c in busy))
        if busy else None,
        "seconds_empty_call": calls[-1]["seconds"] if not calls[-1]["handled"] else None,
        "queries_per_row": (sum(c["queries"] for c in busy) / sum(c["handled"] for c in busy))
        if busy else None,
        "queries_empty_call": calls[-1]["queries"] if not calls[-1]["handled"] else None,
        "peak_python_bytes": max(c["peak_python_bytes"] for c in calls),
    }


def explain(recorder: Recorder) -> list[dict[str, Any]]:
    from django.db import connection, transaction

    plans = []
    for sql, params in recorder.claims.values():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
                plan = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)  # EXPLAIN ANALYZE took the row locks
        plans.append({"sql": sql, "plan": plan,
                      "uses_due_index": any("pr_due_idx" in line for line in plan),
                      "seq_scan": any("Seq Scan" in line for line in plan)})
    return plans


def child(rows: int, repeat: int) -> dict[str, Any]:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["DATABASE_URL"] = scratch_url()
    django.setup()
    from django.db import connection

    from config.celery import app
    from provisioning import sweeps as sweep_module

    enqueued: list = []

    def counted_apply_async(self, args=None, kwargs=None, **options):
        enqueued.append(self.name)

    app.Task.apply_async = counted_apply_async  # no broker: count what would be published

    filled = fill(rows)
    say(f"{rows:,} rows filled in {filled['fill_seconds']} s "
        f"({filled['table_bytes'] / 2**20:.0f} MiB with indexes)")
    recorder = Recorder()
    sweeps = {
        "redrive_due_requests": sweep_module.redrive_due_requests,
        "sweep_step_ups": sweep_module.sweep_step_ups,
        "erase_expired_wallet_payloads": sweep_module.erase_expired_wallet_payloads,
    }
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rounds = []
    with connection.execute_wrapper(recorder):
        for index in range(repeat):
            if index:
                reset_stuck()
            rounds.append({name: measure_sweep(name, fn, recorder, enqueued)
                           for name, fn in sweeps.items()})
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # One more round under tracemalloc for the sweeps' peak Python memory (tracing
        # slows every allocation, so this round's times are not used).
        reset_stuck()
        tracemalloc.start()
        memory = {name: measure_sweep(name, fn, recorder, enqueued)["peak_python_bytes"]
                  for name, fn in sweeps.items()}
        tracemalloc.stop()
        reset_stuck()
    plans = explain(recorder)
    summary = {}
    for name in sweeps:
        per_round = [r[name] for r in rounds]
        summary[name] = {
            "rows_handled": per_round[0]["rows_handled"],
            "busy_calls": per_round[0]["busy_calls"],
            "seconds_total_median": statistics.median(r["seconds_total"] for r in per_round),
            "seconds_per_busy_call_max": max((r["seconds_per_busy_call_max"] or 0)
                                             for r in per_round) or None,
            "ms_per_row_median": _ms(statistics.median(
                r["seconds_per_row"] for r in per_round if r["seconds_per_row"] is not None))
            if any(r["seconds_per_row"] for r in per_round) else None,
            "ms_empty_call_median": _ms(statistics.median(
                r["seconds_empty_call"] for r in per_round if r["seconds_empty_call"] is not None)),
            "queries_per_row": per_round[0]["queries_per_row"],
            "queries_empty_call": per_round[0]["queries_empty_call"],
            "peak_python_kib": round(memory[name] / 1024, 1),
        }
    return {"table": filled, "sweeps": summary, "rounds": rounds, "plans": plans,
            "ru_maxrss_kib": {"before_sweeps": rss_before, "after_sweeps": rss_after}}


INSERTS = 300  # ORM inserts timed per table and round (--log-rows)
LOG_CHILD_REQUESTS = 10_000  # provisioning rows beside the log, for the sweeps


def measure_inserts(recorder: Recorder, enqueued: list) -> dict[str, Any]:
    """Median cost of one log row and one outbox row written as the service writes them:
    TransitionLog.objects.create (core/transitions.py) and services._add (its savepoint,
    its single INSERT, its task after commit), each in its own transaction."""
    import uuid

    from core.models import TransitionLog
    from notifications import services
    from notifications.models import Channel, Notification

    def log_row():
        TransitionLog.objects.create(machine="transfer", object_id=uuid.uuid4(),
                                     transition="submit", from_state="received",
                                     to_state="eligible", trigger="worker")

    def outbox_row():
        services._add(Notification(customer_id="cust_bench", object_id=uuid.uuid4(),
                                   event="provisioned:bench", template_key="provisioned",
                                   channel=Channel.SMS, msisdn="+254700000155"))

    out = {}
    for name, write in (("log", log_row), ("outbox", outbox_row)):
        times, queries = [], []
        for _ in range(INSERTS):
            recorder.queries = 0
            started = time.perf_counter()
            write()
            times.append(time.perf_counter() - started)
            queries.append(recorder.queries)
        times.sort()
        out[name] = {"inserts": INSERTS, "ms_median": _ms(statistics.median(times)),
                     "ms_p95": _ms(times[int(len(times) * 0.95) - 1]),
                     "queries_per_insert": statistics.median(queries)}
    enqueued.clear()
    return out


def log_child(log_rows: int, repeat: int) -> dict[str, Any]:
    """One --log-rows size: provisioning at LOG_CHILD_REQUESTS rows, the log and the outbox
    at `log_rows` (bench/scale_fill.py); per round the four sweeps, then the inserts."""
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ["DATABASE_URL"] = scratch_url()
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from config.celery import app
    from notifications import services
    from provisioning import sweeps as sweep_module

    enqueued: list = []

    def counted_apply_async(self, args=None, kwargs=None, **options):
        enqueued.append(self.name)

    app.Task.apply_async = counted_apply_async  # no broker: count what would be published

    fill(LOG_CHILD_REQUESTS)
    filled = fill_log_and_outbox(log_rows)
    say(f"{log_rows:,} log rows and {filled['outbox_rows']:,} outbox rows filled in "
        f"{filled['fill_seconds']} s (log {filled['log_bytes'] / 2**20:.0f} MiB, outbox "
        f"{filled['outbox_bytes'] / 2**20:.0f} MiB with indexes)")
    since = timezone.now()
    recorder = Recorder()
    sweeps = {
        "redrive_due_requests": sweep_module.redrive_due_requests,
        "sweep_step_ups": sweep_module.sweep_step_ups,
        "erase_expired_wallet_payloads": sweep_module.erase_expired_wallet_payloads,
        "drain_outbox": services.drain_outbox,
    }
    rounds = []
    with connection.execute_wrapper(recorder):
        for index in range(repeat):
            if index:
                reset_stuck_keeping_log(since)
            measured = {name: measure_sweep(name, fn, recorder, enqueued)
                        for name, fn in sweeps.items()}
            rounds.append({"sweeps": measured, "inserts": measure_inserts(recorder, enqueued)})
        reset_stuck_keeping_log(since)
        for name in sweeps:  # one more pass, only for the claims' plans
            measure_sweep(name, sweeps[name], recorder, enqueued)
    plans = explain(recorder)
    summary = {name: {
        "rows_handled": rounds[0]["sweeps"][name]["rows_handled"],
        "seconds_total_median": statistics.median(r["sweeps"][name]["seconds_total"]
                                                  for r in rounds),
        "ms_per_row_median": _ms(statistics.median(
            r["sweeps"][name]["seconds_per_row"] for r in rounds
            if r["sweeps"][name]["seconds_per_row"] is not None))
        if any(r["sweeps"][name]["seconds_per_row"] for r in rounds) else None,
        "ms_empty_call_median": _ms(statistics.median(
            r["sweeps"][name]["seconds_empty_call"] for r in rounds
            if r["sweeps"][name]["seconds_empty_call"] is not None)),
        "queries_per_row": rounds[0]["sweeps"][name]["queries_per_row"],
    } for name in sweeps}
    inserts = {table: {
        "ms_median": statistics.median(r["inserts"][table]["ms_median"] for r in rounds),
        "ms_p95_max": max(r["inserts"][table]["ms_p95"] for r in rounds),
        "queries_per_insert": rounds[0]["inserts"][table]["queries_per_insert"],
        "inserts": INSERTS * len(rounds),
    } for table in ("log", "outbox")}
    return {"table": filled, "sweeps": summary, "inserts": inserts, "rounds": rounds,
            "plans": plans}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# --- parent ----------------------------------------------------------------------------------


def migrate_scratch() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev",
           "DATABASE_URL": scratch_url(), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (3)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--log-rows", default="",
                        help="transition-log sizes to run too, e.g. 10000,1000000,10000000 "
                             "(with a tenth as many outbox rows; none by default)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.repeat), default=str))
        return 0
    if args.log_child:
        print(json.dumps(log_child(args.log_child, args.repeat), default=str))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    log_sizes = [int(s) for s in args.log_rows.split(",") if s.strip()]
    say(f"scratch database {redact(scratch_url())}: recreating and migrating")
    recreate_database(scratch_url())
    migrate_scratch()
    result: dict[str, Any] = {"bench": "scale", "started": now_iso(), "machine": machine(),
                              "git": git_state(), "stuck": STUCK, "sizes": {}, "log_sizes": {}}
    for rows in sizes:
        say(f"{rows:,} rows: filling and sweeping ({args.repeat} rounds) in a child process")
        completed = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--child", str(rows), "--repeat",
             str(args.repeat)], cwd=REPO, capture_output=True, text=True, timeout=1800)
        sys.stderr.write(completed.stderr[-3000:])
        if completed.returncode != 0:
            raise SystemExit(f"child for {rows} rows failed")
        result["sizes"][str(rows)] = json.loads(completed.stdout.strip().splitlines()[-1])
    for rows in log_sizes:
        say(f"{rows:,} log rows: filling, sweeping and inserting ({args.repeat} rounds) "
            f"in a child process")
        completed = subprocess.run(
            [sys.executable, "-m", "bench.scale", "--log-child", str(rows), "--repeat",
             str(args.repeat)], cwd=REPO, capture_output=True, text=True, timeout=7200)
        sys.stderr.write(completed.stderr[-3000:])
        if completed.returncode != 0:
            raise SystemExit(f"child for {rows} log rows failed")
        result["log_sizes"][str(rows)] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["finished"] = now_iso()
    result["machine"]["loadavg_at_end"] = loadavg()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = write_json(args.out / f"scale-{stamp}.json", result)
    print_report(result)
    print_log_report(result)
    print(f"results: {path}")
    return 0


def print_report(result: dict[str, Any]) -> None:
    rows = []
    for size, data in result["sizes"].items():
        for name, s in data["sweeps"].items():
            rows.append([f"{int(size):,}", name, s["rows_handled"], s["busy_calls"],
                         f"{s['seconds_total_median'] * 1000:.1f}",
                         "-" if s["ms_per_row_median"] is None else f"{s['ms_per_row_median']:.2f}",
                         f"{s['ms_empty_call_median']:.2f}",
                         "-" if s["queries_per_row"] is None else f"{s['queries_per_row']:.1f}",
                         s["queries_empty_call"], s["peak_python_kib"]])
    print()
    print(table(["rows", "sweep", "stuck handled", "calls", "total ms", "ms/row",
                 "empty call ms", "queries/row", "queries empty", "peak KiB (py)"], rows))
    print()
    for size, data in result["sizes"].items():
        rss = data["ru_maxrss_kib"]
        print(f"{int(size):,} rows: table {data['table']['table_bytes'] / 2**20:.0f} MiB, "
              f"pr_due_idx {data['table']['due_index_bytes'] / 2**10:.0f} KiB, "
              f"ru_maxrss {rss['before_sweeps'] / 1024:.0f} -> {rss['after_sweeps'] / 1024:.0f} MiB")
        for plan in data["plans"]:
            first = next((line.strip() for line in plan["plan"] if "Scan" in line), plan["plan"][0])
            exec_time = next((line for line in plan["plan"] if "Execution Time" in line), "")
            print(f"  {'index' if plan['uses_due_index'] else 'NO pr_due_idx'}: {first}  "
                  f"[{exec_time.strip()}]")
    print()


def print_log_report(result: dict[str, Any]) -> None:
    if not result.get("log_sizes"):
        return
    rows = []
    for size, data in result["log_sizes"].items():
        inserts, sweeps = data["inserts"], data["sweeps"]
        rows.append([f"{int(size):,}", f"{data['table']['outbox_rows']:,}",
                     f"{inserts['log']['ms_median']:.3f}", inserts["log"]["queries_per_insert"],
                     f"{inserts['outbox']['ms_median']:.3f}",
                     inserts["outbox"]["queries_per_insert"],
                     *["-" if sweeps[name]["ms_per_row_median"] is None
                       else f"{sweeps[name]['ms_per_row_median']:.2f}" for name in sweeps],
                     f"{sweeps['drain_outbox']['ms_empty_call_median']:.2f}"])
    names = list(next(iter(result["log_sizes"].values()))["sweeps"])
    print(table(["log rows", "outbox rows", "log insert ms", "q", "outbox insert ms", "q",
                 *[f"{name} ms/row" for name in names], "drain empty ms"], rows))
    print()
    for size, data in result["log_sizes"].items():
        print(f"{int(size):,} log rows: log {data['table']['log_bytes'] / 2**20:.0f} MiB, "
              f"outbox {data['table']['outbox_bytes'] / 2**20:.0f} MiB over "
              f"{data['table']['months']} months")
        for plan in data["plans"]:
            first = next((line.strip() for line in plan["plan"] if "Scan" in line), plan["plan"][0])
            exec_time = next((line for line in plan["plan"] if "Execution Time" in line), "")
            print(f"  {first}  [{exec_time.strip()}]")
    print()


if __name__ == "__main__":
    sys.exit(main())
