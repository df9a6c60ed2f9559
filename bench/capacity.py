"""A region's processes, cores, connections, broker and storage for a daily demand, from
the costs one `make bench` run measured (docs/capacity.md is its report).

    .venv/bin/python -m bench.capacity bench/results/bench-<commit>-<time>.json
    .venv/bin/python -m bench.capacity RUN.json --pushes-per-day 1e6 --transfers-per-day 5e6 \\
        --peak-hour-factor 10 --outside-latency-ms 250

Per unit of work (a green provisioning from the run's `green70` phase, a completed transfer
from `transfers70`) the run gives: web, worker and PostgreSQL-backend CPU, the outside
calls the sandbox counted, the app's reads, and each process's memory. The rest are
inputs, each a flag with the figure measured where it was measured (docs/capacity.md):
the counterparts' latency (the sandbox answers in milliseconds, a real issuer or payout
network in hundreds), the notification task's share of the worker's CPU (from the CPU
profiles), the rows each unit leaves in the transition log and the outbox, and the Redis
commands per unit (counted with MONITOR during a run).

The arithmetic is Little's law and a utilisation target: cores = rate x CPU per unit /
target; processes that wait on an outside system = rate x (CPU + calls x latency), since a
prefork pool process holds its slot while it waits. Nothing here is measured by this
script itself; it prints JSON and a table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

SECONDS_PER_DAY = 86_400

# Measured inputs that a bench JSON does not carry (docs/capacity.md says where each came from).
NOTIFICATION_SHARE = {"provisioning": 0.18, "transfers": 0.15}  # of the worker pool's CPU
LOG_ROWS_PER_UNIT = {"provisioning": 4.0, "transfers": 4.0}  # 3 moves + the token; 4 moves
OUTBOX_ROWS_PER_UNIT = {"provisioning": 1.0, "transfers": 1.0}
# pg_total_relation_size / rows (heap, TOAST and indexes) after a green70 run of 13,092 log
# and 3,273 outbox rows (docs/capacity.md).
LOG_ROW_BYTES = 300
OUTBOX_ROW_BYTES = 705
REDIS_COMMANDS_PER_UNIT = {"provisioning": 40.0, "transfers": 45.0}  # broker + cache
PHASES = {"provisioning": "green70", "transfers": "transfers70"}
# Outside calls that run on the notifications queue, not on the flow's own.
NOTIFICATION_CALLS = {("push", "send"), ("sms", "send")}
# The one call each unit makes exactly once: the sandbox's counts include the warm-up and
# the read probe's creates, so calls are counted per anchor call, not per finished unit.
ANCHOR_CALL = {"provisioning": ("token_service", "provision"), "transfers": ("payouts", "payout")}
DEFAULT_PSS_MIB = 65.0  # a pool process's PSS: deploy/k8s/README.md's worker pod, per process


def unit_costs(phase: dict[str, Any], flow: str) -> dict[str, float]:
    """What one finished unit of the phase cost, in ms and in counts."""
    cpu = phase["cpu_ms_per_provisioning"]
    calls = phase.get("sandbox", {}).get("calls", {})
    system, operation = ANCHOR_CALL[flow]
    units = max((calls.get(system) or {}).get(operation, 0), 1)
    own = notify = 0
    for system, operations in calls.items():
        for operation, count in (operations or {}).items():
            if operation == "token":  # the push service's access token: once an hour
                continue
            if (system, operation) in NOTIFICATION_CALLS:
                notify += count
            else:
                own += count
    worker = cpu["worker"] + cpu.get("worker_main", 0.0)
    share = NOTIFICATION_SHARE[flow]
    memory = (phase.get("rss_mib") or {}).get("roles", {})
    return {
        "web_ms": cpu["web"] + cpu.get("web_main", 0.0),
        "worker_flow_ms": worker * (1 - share),
        "worker_notifications_ms": worker * share,
        "beat_ms": cpu.get("beat", 0.0),
        "postgres_ms": cpu.get("postgres_backends", 0.0),
        "outside_calls": own / units,
        "notification_calls": notify / units,
        "requests": sum((phase.get("requests_per_provisioning") or {}).values()),
        "web_pss_mib": (memory.get("web") or {}).get("peak_pss_per_process") or DEFAULT_PSS_MIB,
        "worker_pss_mib": (memory.get("worker") or {}).get("peak_pss_per_process")
        or DEFAULT_PSS_MIB,
    }


def plan(run: dict[str, Any], *, per_day: dict[str, float], peak_factor: float,
         utilisation: float, latency_ms: float, web_processes_per_core: float,
         pg_connections_per_core: int) -> dict[str, Any]:
    """The region for `per_day` units of each flow, its peak hour `peak_factor` times the
    average hour, every role held at `utilisation` of its cores."""
    latency = latency_ms / 1000
    flows, totals = {}, {"web_cores": 0.0, "postgres_cores": 0.0, "notifications_cores": 0.0,
                         "notifications_slots": 0.0, "requests_per_s": 0.0,
                         "redis_commands_per_s": 0.0, "log_rows_per_day": 0.0,
                         "outbox_rows_per_day": 0.0}
    for flow, phase_name in PHASES.items():
        phase = run["phases"].get(phase_name)
        if phase is None or not per_day.get(flow):
            continue
        cost = unit_costs(phase, flow)
        rate = per_day[flow] / SECONDS_PER_DAY * peak_factor
        busy = rate * cost["worker_flow_ms"] / 1000
        flow_cores = busy / utilisation
        slots = rate * (cost["worker_flow_ms"] / 1000 + cost["outside_calls"] * latency)
        flows[flow] = {
            "phase": phase_name, "cost": {k: round(v, 2) for k, v in cost.items()},
            "average_per_s": round(per_day[flow] / SECONDS_PER_DAY, 1),
            "peak_per_s": round(rate, 1),
            "worker_cores": round(flow_cores, 1),
            # A pool process waits out its outside calls; at the sandbox's latency the CPU
            # bound rules, at a real counterpart's the wait does.
            "worker_slots": math.ceil(slots / utilisation),
            # Pool processes one busy core keeps fed: (CPU + wait) / CPU per unit.
            "worker_slots_per_core": round(slots / max(busy, 1e-9), 1),
        }
        totals["web_cores"] += rate * cost["web_ms"] / 1000 / utilisation
        totals["postgres_cores"] += rate * cost["postgres_ms"] / 1000 / utilisation
        totals["notifications_cores"] += rate * cost["worker_notifications_ms"] / 1000 / utilisation
        totals["notifications_slots"] += rate * (cost["worker_notifications_ms"] / 1000
                                                 + cost["notification_calls"] * latency)
        totals["requests_per_s"] += rate * cost["requests"]
        totals["redis_commands_per_s"] += rate * REDIS_COMMANDS_PER_UNIT[flow]
        totals["log_rows_per_day"] += per_day[flow] * LOG_ROWS_PER_UNIT[flow]
        totals["outbox_rows_per_day"] += per_day[flow] * OUTBOX_ROWS_PER_UNIT[flow]
    worker_pss = max((f["cost"]["worker_pss_mib"] for f in flows.values()), default=DEFAULT_PSS_MIB)
    web_pss = max((f["cost"]["web_pss_mib"] for f in flows.values()), default=DEFAULT_PSS_MIB)
    web_processes = math.ceil(totals["web_cores"] * web_processes_per_core)
    notification_slots = math.ceil(totals["notifications_slots"] / utilisation)
    worker_slots = sum(f["worker_slots"] for f in flows.values()) + notification_slots
    postgres_cores = max(math.ceil(totals["postgres_cores"]), 2)
    storage_day = (totals["log_rows_per_day"] * LOG_ROW_BYTES
                   + totals["outbox_rows_per_day"] * OUTBOX_ROW_BYTES) / 2**30
    return {
        "inputs": {"per_day": per_day, "peak_hour_factor": peak_factor,
                   "utilisation": utilisation, "outside_latency_ms": latency_ms,
                   "web_processes_per_core": web_processes_per_core,
                   "pg_connections_per_core": pg_connections_per_core,
                   "measured_on": run.get("git", {}).get("commit"),
                   "measured_at": run.get("started")},
        "flows": flows,
        "web": {"cores": round(totals["web_cores"], 1), "processes": web_processes,
                "memory_gib": round(web_processes * web_pss / 1024, 1),
                "requests_per_s": round(totals["requests_per_s"])},
        "notifications": {"cores": round(totals["notifications_cores"], 1),
                          "worker_slots": notification_slots},
        "workers": {"slots": worker_slots,
                    "memory_gib": round(worker_slots * worker_pss / 1024, 1)},
        "postgres": {"backend_cores": round(totals["postgres_cores"], 1),
                     "client_connections": web_processes + worker_slots + 2,
                     "pgbouncer_server_connections": postgres_cores * pg_connections_per_core,
                     "log_rows_per_day": round(totals["log_rows_per_day"]),
                     "outbox_rows_per_day": round(totals["outbox_rows_per_day"]),
                     "log_and_outbox_gib_per_day": round(storage_day, 1),
                     "log_and_outbox_gib_per_month": round(storage_day * 30, 0)},
        "redis": {"commands_per_s": round(totals["redis_commands_per_s"])},
    }


def table(result: dict[str, Any]) -> str:
    lines = ["| flow | average /s | peak /s | worker cores | pool slots | slots per core |",
             "| --- | --- | --- | --- | --- | --- |"]
    for flow, f in result["flows"].items():
        lines.append(f"| {flow} | {f['average_per_s']} | {f['peak_per_s']} | {f['worker_cores']} "
                     f"| {f['worker_slots']} | {f['worker_slots_per_core']} |")
    web, pg, workers = result["web"], result["postgres"], result["workers"]
    lines += ["", "| role | figure |", "| --- | --- |",
              f"| web | {web['cores']} cores, {web['processes']} processes, "
              f"{web['memory_gib']} GiB, {web['requests_per_s']} requests/s |",
              f"| notifications | {result['notifications']['cores']} cores, "
              f"{result['notifications']['worker_slots']} pool slots |",
              f"| all workers | {workers['slots']} pool slots, {workers['memory_gib']} GiB |",
              f"| PostgreSQL | {pg['backend_cores']} backend cores, {pg['client_connections']} "
              f"client connections -> {pg['pgbouncer_server_connections']} through PgBouncer |",
              f"| log + outbox | {pg['log_rows_per_day']:,} + {pg['outbox_rows_per_day']:,} rows/day, "
              f"{pg['log_and_outbox_gib_per_day']} GiB/day |",
              f"| Redis | {result['redis']['commands_per_s']:,} commands/s |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a bench/results/bench-*.json with green70 and transfers70")
    parser.add_argument("--pushes-per-day", type=float, default=1e6)
    parser.add_argument("--transfers-per-day", type=float, default=5e6)
    parser.add_argument("--peak-hour-factor", type=float, default=10.0)
    parser.add_argument("--utilisation", type=float, default=0.7)
    parser.add_argument("--outside-latency-ms", type=float, default=250.0,
                        help="a counterpart's answer time per call (the sandbox's is ~5 ms)")
    parser.add_argument("--web-processes-per-core", type=float, default=1.5,
                        help="sync gunicorn processes per web core (docs/capacity.md)")
    parser.add_argument("--pg-connections-per-core", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print only the JSON")
    args = parser.parse_args(argv)
    run = json.loads(args.run.read_text())
    result = plan(run, per_day={"provisioning": args.pushes_per_day,
                                "transfers": args.transfers_per_day},
                  peak_factor=args.peak_hour_factor, utilisation=args.utilisation,
                  latency_ms=args.outside_latency_ms,
                  web_processes_per_core=args.web_processes_per_core,
                  pg_connections_per_core=args.pg_connections_per_core)
    print(json.dumps(result, indent=2))
    if not args.json:
        print("\n" + table(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
