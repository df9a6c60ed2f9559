"""The figures of one measured phase (bench/phase.py): throughput, latency percentiles,
outcomes, what the sandbox and the database saw, the CPU, and the time series the plots
draw. Pure functions of a finished PhaseRun."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .common import percentiles
from .loadgen import EXPECTED_STATE
from .memory import rss_figures

if TYPE_CHECKING:
    from .phase import PhaseRun


# Beat's periodic tasks: they run whatever the load, so they are not a request's hops.
BEAT_TASKS = ("reconcile", "drain", "redrive")


def sandbox_summary(stats: dict[str, Any]) -> dict[str, Any]:
    idem = stats.get("idempotency", {})
    messages = stats.get("messages", {})
    return {
        "calls": stats.get("calls", {}),
        "duplicate_effects": idem.get("duplicate_effects"),
        "request_ids_with_multiple_tokens": len(idem.get("request_ids_with_multiple_tokens") or {}),
        "idempotency_keys": idem.get("keys"),
        "replays": idem.get("replays"),
        "messages_total": messages.get("total"),
        "duplicate_references": messages.get("duplicate_references"),
        "signature_failures": stats.get("signature_failures"),
        "webhooks": stats.get("webhooks"),
        "faults": stats.get("faults"),
        # Visa Direct: each hold captured or released once, as the payouts say.
        "money_rule_ok": (stats.get("money_rule") or {}).get("ok"),
        "ledger_duplicate_effects": (stats.get("ledger") or {}).get("duplicate_effects"),
        "payout_duplicate_effects": (stats.get("payouts") or {}).get("duplicate_effects"),
    }


def summarize(run: PhaseRun) -> dict[str, Any]:
    config = run.config
    traces = run.traces
    floor = config.floor_hops is not None
    ok_create = [lat for t in traces for (_, lat, status) in t.creates if 200 <= status < 300]
    reads = [lat for t in traces for (_, lat, status) in t.reads if status == 200]
    verifies = [lat for t in traces for (_, lat, status) in t.verifies if status in (200, 409)]
    client_s2t = [t.terminal_seen_at - t.submitted_at for t in traces
                  if t.terminal_seen_at is not None]
    server_s2t, terminal_times = [], []
    states: Counter = Counter()
    wrong: Counter = Counter()
    for trace in traces:
        row = run.db.get(trace.request_id or "")
        if row is None:
            states["(no row)"] += 1
            continue
        states[row["state"]] += 1
        if not floor:
            expected = EXPECTED_STATE[trace.app.outcome]
            if row["state"] != expected:
                wrong[f"{trace.app.outcome}->{row['state']}"] += 1
        if row["terminal"] is not None:
            server_s2t.append(row["terminal"] - trace.submitted_wall)
            terminal_times.append(row["terminal"] - run.started_wall)
    finished = len(terminal_times)
    span = max(terminal_times) if terminal_times else 0.0
    steady = None
    if len(terminal_times) >= 20:
        ordered = sorted(terminal_times)
        lo, hi = ordered[len(ordered) // 10], ordered[(len(ordered) * 9) // 10]
        if hi > lo:
            steady = (len(ordered) * 8 // 10) / (hi - lo)
    service_cpu = sum(run.cpu.get(name, 0.0) for name in ("web", "worker", "beat"))
    ours = (service_cpu + run.cpu.get("sandbox", 0.0) + run.cpu.get("loadgen", 0.0)
            + run.cpu.get("postgres_backends", 0.0))
    cpu_window = run.cpu.get("cpu_window_s") or 0.0
    outcomes = Counter(t.app.outcome for t in traces)
    errors = Counter((t.error or "").split(":")[0] for t in traces if t.error)
    create_statuses = Counter(status for t in traces for (_, _, status) in t.creates)
    read_statuses = Counter(status for t in traces for (_, _, status) in t.reads)
    send_lag = [t.submitted_at - t.intended_at for t in traces if t.intended_at is not None]
    per = finished or 1
    return {
        "name": config.name,
        "kind": "floor" if floor else "service",
        "flow": "floor" if floor else config.flow,
        "settings": config.settings_module,
        "load": {
            "pattern": "open" if config.rate else "closed",
            "apps_in_flight": None if config.rate else config.concurrency,
            "arrival_rate_per_s": config.rate,
            "count": config.count,
            "mix": config.mix if not floor else None,
            "floor_hops": config.floor_hops,
            "poll_interval_s": config.poll_interval,
            "web_concurrency": config.web_concurrency,
            "worker_concurrency": config.worker_concurrency,
            "warmup": config.warmup,
            "max_send_lag_ms": round(max(send_lag) * 1000, 1) if send_lag else None,
        },
        "outcomes": dict(outcomes),
        "final_states": dict(states),
        "unexpected_final_states": dict(wrong),
        "client_errors": dict(errors),
        "create_statuses": {str(k): v for k, v in create_statuses.items()},
        "read_statuses": {str(k): v for k, v in read_statuses.items()},
        "finished": finished,
        "window_s": round(span, 3),
        "throughput_per_s": round(finished / span, 2) if span else None,
        "steady_throughput_per_s": round(steady, 2) if steady else None,
        "latency_s": {
            "create": percentiles(ok_create),
            "read": percentiles(reads),
            "verify": percentiles(verifies),
            "submit_to_terminal": percentiles(server_s2t),
            "submit_to_terminal_client_seen": percentiles(client_s2t),
        },
        "requests_per_provisioning": {
            "create": round(sum(len(t.creates) for t in traces) / per, 2),
            "read": round(sum(len(t.reads) for t in traces) / per, 2),
            "verify": round(sum(len(t.verifies) for t in traces) / per, 2),
        },
        "cpu_s": {name: round(value, 3) for name, value in run.cpu.items()},
        # Everything else the machine did meanwhile: Redis and PostgreSQL's own processes
        # (mostly for us) and other people's. High values mean a noisy measurement.
        "other_cpu_cores": round((run.cpu.get("machine", 0.0) - ours) / cpu_window, 2)
        if cpu_window else None,
        "machine_busy_cores": round(run.cpu.get("machine", 0.0) / cpu_window, 2)
        if cpu_window else None,
        "quiet_check": run.quiet,
        "cpu_ms_per_provisioning": {
            "service": round(service_cpu * 1000 / per, 2),
            **{name: round(run.cpu.get(name, 0.0) * 1000 / per, 2)
               for name in ("web", "web_main", "worker", "worker_main", "beat", "sandbox",
                            "loadgen", "postgres_backends")},
        },
        "read_probe": run.read_probe,
        "cpu_ms_per_provisioning_without_polling": _without_polling(
            service_cpu * 1000 / per, read_statuses, per, run.read_probe),
        # RSS and PSS of the web, worker and beat processes through the window, MiB.
        "rss_mib": rss_figures(run.rss, config.rss_warmup_s) if run.rss else None,
        "tasks": dict(run.tasks),
        "tasks_per_provisioning": round(
            sum(v for k, v in run.tasks.items() if not k.startswith(BEAT_TASKS))
            / per, 2),
        "sandbox": sandbox_summary(run.sandbox_after),
        "quiesced": run.quiesced,
        "loadavg_before": run.loadavg_before,
        "loadavg_after": run.loadavg_after,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.started_wall)),
        "events": run.events,
    }


def _without_polling(service_ms: float, read_statuses: Counter, per: int,
                     probe: dict) -> float | None:
    """Service CPU per provisioning less its app's polls, each priced by the read probe:
    a 304 at the probe's price of a 304 poll (when it has one), any other at a full read's."""
    if not probe or "web_cpu_ms_per_read" not in probe:
        return None
    reads = sum(read_statuses.values())
    polls_304 = read_statuses.get(304, 0) if probe.get("web_cpu_ms_per_poll_304") else 0
    polls_ms = ((reads - polls_304) * probe["web_cpu_ms_per_read"]
                + polls_304 * (probe.get("web_cpu_ms_per_poll_304") or 0.0))
    return round(service_ms - polls_ms / per, 2)


def series(run: PhaseRun) -> dict[str, list]:
    """Raw points for the plot: seconds since the start, latency in seconds."""
    creates = [(at, lat) for t in run.traces for (at, lat, st) in t.creates if 200 <= st < 300]
    reads = [(at, lat) for t in run.traces for (at, lat, st) in t.reads if st == 200]
    terminal = []
    for trace in run.traces:
        row = run.db.get(trace.request_id or "")
        if row and row["terminal"] is not None:
            terminal.append((row["terminal"] - run.started_wall,
                             row["terminal"] - trace.submitted_wall))
    failed = [(at, lat) for t in run.traces for (at, lat, st) in [*t.creates, *t.reads]
              if not 200 <= st < 300]
    return {"create": sorted(creates), "read": sorted(reads), "terminal": sorted(terminal),
            "failed": sorted(failed)}
