"""`make bench`: throughput, latency and CPU per provisioning, beside the floor.

    .venv/bin/python -m bench.run                      # every phase, defaults below
    .venv/bin/python -m bench.run --count 200 --phases green,mix   # quick look

Phases, each on a fresh stack (devstack.Stack on free ports) and fresh tables:

  floor   bench.settings: a plain DRF view inserting one row + a chain of --hops no-op
          tasks updating it; closed loop, --apps apps in flight
  green   the service, 100% green cards; closed loop: peak throughput beside the floor
  green70 the same at --rate-fraction of green's peak, open loop: CPU per green
          provisioning at a load the machine sustains (at the peak, CPU per operation
          grows with contention and with the polls of apps that wait longer)
  mix     the service, --mix (default 80% green, 10% yellow, 5% red, 5% 503-twice);
          closed loop: the peak throughput
  mix70   the service, --mix, open loop (Poisson) at --rate-fraction of mix's peak for
          --open-seconds: create latency at a sustainable load
  transfers    Visa Direct, every card approved with fast funds; each app's balance,
          payee and quote are made in the set-up, so the measured create is POST
          /transfers; closed loop: peak throughput and CPU per transfer beside the floor
  transfers70  the same, open loop at --rate-fraction of transfers' peak: create and
          submit→completed latency at a sustainable load

--soak runs one open-loop phase for a long time (green70 unless --phases says
transfers70; 30 min; at --rate, else at --rate-fraction of the peak its closed-loop
phase measures first) and prints each role's RSS at the window's start and end, and
whether the worker's pool processes grew after the first minute.

--quick is a short look at the floor and the transfers (150 per closed-loop phase, 15 s
open loop, a smaller warm-up and read probe); any flag given beside it wins.

Writes bench/results/bench-<time>.json and .png, prints a table. No assertion anywhere:
the targets of issues 14 and 13 are printed as met or missed, for the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .common import (
    RESULTS,
    connection_urls,
    git_state,
    loadavg,
    machine,
    ms,
    now_iso,
    recreate_database,
    redact,
    say,
    table,
    write_json,
)
from .loadgen import TRANSFER_MIX, parse_mix
from .figures import series, summarize
from .phase import PhaseConfig, run_phase
from .memory import SOAK_WARMUP_S
from .plot import latency_figure

# Issue 14's bars for a green provisioning (issue 7's were 15 ms, 50 ms and 0.5).
TARGET_CPU_VS_FLOOR = 1.5
TARGET_THROUGHPUT_VS_FLOOR = 0.7
TARGET_CREATE_P99_S = 0.030
TARGET_SUBMIT_P99_S = 0.25
TARGET_WEB_MS_PER_POLL = 1.5
# Issue 13's create bar for a transfer.
TARGET_TRANSFER_CREATE_P99_S = 0.050
# Issue 13 (Visa Direct), as a first bar.
TARGET_TRANSFER_CPU_VS_FLOOR = 2.0
TARGET_TRANSFER_SUBMIT_TO_COMPLETED_P99_S = 1.0
PHASES = ("floor", "green", "green70", "mix", "mix70", "transfers", "transfers70")
CLOSED = ("floor", "green", "mix", "transfers")
QUICK = {"count": 150, "open_seconds": 15.0, "warmup": 10, "read_probe": 200,
         "phases": "floor,transfers,transfers70"}
SOAK = {"open_seconds": 1800.0, "phases": "green70"}
# Apps (and their traces) the load generator holds for one open-loop phase: each is set
# up before the window and kept to the end, ~2 KB apiece (app, token, trace).
MAX_OPEN_LOOP_APPS = 100_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000,
                        help="provisionings (floor rows) per closed-loop phase (1000)")
    parser.add_argument("--mix", default=None,
                        help="outcome weights, e.g. green=80,yellow=10,red=5,flaky=5 (default)")
    parser.add_argument("--apps", type=int, default=64,
                        help="simulated wallet apps in flight in closed-loop phases (64)")
    parser.add_argument("--web", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency (2)")
    parser.add_argument("--poll", type=float, default=0.5, help="app poll interval, s (0.5)")
    parser.add_argument("--hops", type=int, default=3,
                        help="no-op tasks in the floor's chain: a green provisioning's hops (3)")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--rate-fraction", type=float, default=0.7)
    parser.add_argument("--rate", type=float, default=None,
                        help="open-loop rate for green70 and mix70 (default: rate-fraction x the peak)")
    parser.add_argument("--open-seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--read-probe", type=int, default=1000,
                        help="reads of finished requests after each phase, to price one poll")
    parser.add_argument("--quick", action="store_true",
                        help="a short look: " + ", ".join(f"{k.replace('_', '-')} {v}"
                                                          for k, v in QUICK.items()))
    parser.add_argument("--soak", action="store_true",
                        help="one long open-loop phase, RSS at start and end and the worker's "
                             "growth: " + ", ".join(f"{k.replace('_', '-')} {v}"
                                                    for k, v in SOAK.items())
                             + " (transfers70 by --phases); without --rate, the peak phase "
                               "runs first")
    parser.add_argument("--rss-warmup", type=float, default=SOAK_WARMUP_S,
                        help="seconds at the window's start left out of the growth verdict "
                             f"({SOAK_WARMUP_S:g})")
    parser.add_argument("--profile", nargs="?", const="cpu", choices=("cpu", "pyinstrument", "queries"),
                        help="profile every web and worker process (bench/profiling.py): "
                             "cpu (sampling on the CPU clock, default), pyinstrument, or queries (SQL "
                             "statements per request and task); a "
                             "profiled run's numbers are not the bench's")
    parser.add_argument("--no-wait-quiet", action="store_true",
                        help="start each phase at once instead of waiting (up to 3 min) for "
                             "the machine's other CPU load to fall under 0.25 cores")
    parser.add_argument("--fresh-db", action="store_true",
                        help="drop and create the bench database first (make bench does)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    if args.quick or args.soak:  # parsed again with their defaults: a flag beside them wins
        parser.set_defaults(**QUICK if args.quick else SOAK)
        args = parser.parse_args(argv)
    return args


def wanted_phases(args: argparse.Namespace) -> list[str]:
    """The phases to run, in order; a soak without --rate measures its peak first."""
    wanted = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(wanted) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases: {', '.join(sorted(unknown))}")
    if args.soak and not args.rate:
        for name in [p for p in wanted if p not in CLOSED]:
            if name[:-2] not in wanted:
                wanted.insert(wanted.index(name), name[:-2])
    return wanted


def compare(floor: dict | None, service: dict | None) -> list[dict[str, Any]]:
    if not floor or not service:
        return []
    rows = []

    def add(label: str, f: float | None, s: float | None, unit: str) -> None:
        ratio = round(s / f, 2) if f and s is not None else None
        rows.append({"metric": label, "floor": f, "service": s, "ratio": ratio, "unit": unit})

    add("throughput", floor["throughput_per_s"], service["throughput_per_s"], "/s")
    add("steady throughput", floor["steady_throughput_per_s"],
        service["steady_throughput_per_s"], "/s")
    for kind in ("create", "read", "submit_to_terminal"):
        for point in ("p50", "p95", "p99"):
            add(f"{kind} {point}", floor["latency_s"][kind][point],
                service["latency_s"][kind][point], "s")
    for part in ("service", "web", "worker", "worker_main", "beat"):
        add(f"CPU {part}", floor["cpu_ms_per_provisioning"][part],
            service["cpu_ms_per_provisioning"][part], "ms/provisioning")
    add("CPU service without polling", floor["cpu_ms_per_provisioning_without_polling"],
        service["cpu_ms_per_provisioning_without_polling"], "ms/provisioning")
    add("web CPU per read", (floor["read_probe"] or {}).get("web_cpu_ms_per_read"),
        (service["read_probe"] or {}).get("web_cpu_ms_per_read"), "ms")
    add("web CPU per 304 poll", (floor["read_probe"] or {}).get("web_cpu_ms_per_poll_304"),
        (service["read_probe"] or {}).get("web_cpu_ms_per_poll_304"), "ms")
    add("web CPU per create", (floor["read_probe"] or {}).get("web_cpu_ms_per_create"),
        (service["read_probe"] or {}).get("web_cpu_ms_per_create"), "ms")
    add("tasks", floor["tasks_per_provisioning"], service["tasks_per_provisioning"],
        "per provisioning")
    add("reads", floor["requests_per_provisioning"]["read"],
        service["requests_per_provisioning"]["read"], "per provisioning")
    return rows


def targets(phases: dict[str, dict]) -> list[dict[str, Any]]:
    """Issue 14's bars for a green provisioning, each against the floor of the same run
    where it is a ratio (the VM's speed varies between days; a ratio does not), and the
    latency bars at 70% of the peak."""
    out = []
    floor, green, green70, mix70 = (phases.get(name) for name in ("floor", "green", "green70", "mix70"))
    phase = green70 or green
    for with_polls in (True, False):
        if not (phase and floor):
            break
        if with_polls:
            cpu = phase["cpu_ms_per_provisioning"]["service"]
            floor_cpu = floor["cpu_ms_per_provisioning"]["service"]
        else:
            cpu = phase["cpu_ms_per_provisioning_without_polling"]
            floor_cpu = floor["cpu_ms_per_provisioning_without_polling"]
        if not (cpu and floor_cpu):
            continue
        ratio = round(cpu / floor_cpu, 2)
        label = ("service CPU per green provisioning" if with_polls
                 else "  the same without the app's polls (each priced by its read probe)")
        out.append({"target": f"{label} <= {TARGET_CPU_VS_FLOOR:g} x the floor's per row "
                              f"({phase['name']}: {cpu} vs {floor_cpu} ms)",
                    "value": ratio, "met": ratio <= TARGET_CPU_VS_FLOOR})
    if green and floor and floor["throughput_per_s"]:
        ratio = round(green["throughput_per_s"] / floor["throughput_per_s"], 2)
        out.append({"target": f"peak throughput >= {TARGET_THROUGHPUT_VS_FLOOR} x floor "
                              f"({green['throughput_per_s']} vs {floor['throughput_per_s']}/s)",
                    "value": ratio, "met": ratio >= TARGET_THROUGHPUT_VS_FLOOR})
    for phase in (green70, mix70):
        if not phase:
            continue
        value = phase["latency_s"]["create"]["p99"]
        out.append({"target": f"create p99 < {TARGET_CREATE_P99_S * 1000:.0f} ms at "
                              f"{phase['load']['arrival_rate_per_s']}/s ({phase['name']}, 70% of peak)",
                    "value": value, "met": value is not None and value < TARGET_CREATE_P99_S})
    if green70:
        value = green70["latency_s"]["submit_to_terminal"]["p99"]
        out.append({"target": f"submit→provisioned p99 < {TARGET_SUBMIT_P99_S:g} s at "
                              f"{green70['load']['arrival_rate_per_s']}/s (green70)",
                    "value": value, "met": value is not None and value < TARGET_SUBMIT_P99_S})
        probe = green70.get("read_probe") or {}
        poll = probe.get("web_cpu_ms_per_poll_304") or probe.get("web_cpu_ms_per_read")
        if poll is not None:
            out.append({"target": f"web CPU per poll <= {TARGET_WEB_MS_PER_POLL:g} ms "
                                  f"(a 304 when the app sends If-None-Match)",
                        "value": poll, "met": poll <= TARGET_WEB_MS_PER_POLL})
    return out + transfer_targets(phases)


def transfer_targets(phases: dict[str, dict]) -> list[dict[str, Any]]:
    """Issue 13's bars. CPU per completed transfer against the floor's per row, both
    without the app's polls (each priced by its own read probe) so the poll rate does not
    decide it: at the peak (both closed loop, the same apps in flight: the verdict) and
    at 70% (open loop, less contention: shown beside it). Latency at 70% of the peak."""
    out = []
    floor, peak, open70 = phases.get("floor"), phases.get("transfers"), phases.get("transfers70")
    floor_cpu = floor and floor["cpu_ms_per_provisioning_without_polling"]
    for phase, verdict in ((peak, True), (open70, False)):
        cpu = phase and phase["cpu_ms_per_provisioning_without_polling"]
        if not (floor_cpu and cpu):
            continue
        ratio = round(cpu / floor_cpu, 2)
        target = (f"transfer CPU per completed transfer <= {TARGET_TRANSFER_CPU_VS_FLOOR:g} x "
                  f"the floor's per row, w/o polls ({phase['name']}: {cpu} vs {floor_cpu} ms)")
        if verdict:
            out.append({"target": target, "value": ratio,
                        "met": ratio <= TARGET_TRANSFER_CPU_VS_FLOOR})
        else:
            out.append({"target": "  " + target, "value": ratio, "met": None})
    if open70:
        rate = open70["load"]["arrival_rate_per_s"]
        value = open70["latency_s"]["create"]["p99"]
        out.append({"target": f"transfer create p99 < {TARGET_TRANSFER_CREATE_P99_S * 1000:.0f} ms at "
                              f"{rate}/s (70% of peak)",
                    "value": value, "met": value is not None and value < TARGET_TRANSFER_CREATE_P99_S})
        value = open70["latency_s"]["submit_to_terminal"]["p99"]
        done = open70["final_states"].get("completed", 0) == open70["finished"] > 0
        out.append({"target": f"transfer submit→completed p99 < "
                              f"{TARGET_TRANSFER_SUBMIT_TO_COMPLETED_P99_S:g} s at {rate}/s "
                              f"(every finished one completed: {done})",
                    "value": value, "met": value is not None and done
                    and value < TARGET_TRANSFER_SUBMIT_TO_COMPLETED_P99_S})
    return out


def read_price_cell(probe: dict | None) -> str:
    """Web CPU of one full read and of one 304 poll, from the read probe."""
    if not probe:
        return "-"
    poll = probe.get("web_cpu_ms_per_poll_304")
    return f"{probe.get('web_cpu_ms_per_read', '-')}/{'-' if poll is None else poll}"


def print_report(result: dict[str, Any]) -> None:
    phases = result["phases"]
    header = ["phase", "load", "done", "ok", "/s", "create p50/95/99 ms", "read p50/95/99 ms",
              "submit→terminal p50/95/99 s", "CPU ms/prov (web+worker+beat)", "w/o polls",
              "tasks/prov", "machine/other cores", "web ms/read 200/304"]
    header.append("peak RSS MiB web/worker/beat")
    rows = []
    for name, p in phases.items():
        lat = p["latency_s"]
        load = (f"{p['load']['arrival_rate_per_s']}/s open" if p["load"]["pattern"] == "open"
                else f"{p['load']['apps_in_flight']} apps")
        wrong = sum(p["unexpected_final_states"].values()) + sum(p["client_errors"].values())
        cpu = p["cpu_ms_per_provisioning"]
        rows.append([
            name, load, p["finished"], "yes" if not wrong else f"{wrong} off",
            p["throughput_per_s"],
            "/".join(ms(lat["create"][k]) for k in ("p50", "p95", "p99")),
            "/".join(ms(lat["read"][k]) for k in ("p50", "p95", "p99")),
            "/".join("-" if lat["submit_to_terminal"][k] is None
                     else f"{lat['submit_to_terminal'][k]:.2f}" for k in ("p50", "p95", "p99")),
            f"{cpu['service']:.1f} ({cpu['web']:.1f}+{cpu['worker']:.1f}+{cpu['beat']:.1f})",
            p["cpu_ms_per_provisioning_without_polling"] or "-",
            p["tasks_per_provisioning"],
            f"{p['machine_busy_cores']}/{p['other_cpu_cores']}",
            read_price_cell(p.get("read_probe")),
            peak_rss_cell(p.get("rss_mib")),
        ])
    print()
    print(table(header, rows))
    memory = memory_rows(phases)
    if memory:
        print()
        print("memory, MiB (peak: the largest one process in any sample; sums: all the "
              "role's processes, at the window's start -> end):")
        print(table(["phase", "role", "procs", "peak RSS", "peak PSS", "RSS sum", "PSS sum"],
                    memory))
    for key, name in (("comparison", "service (green)"),
                      ("comparison_transfers", "transfers (peak)"),
                      ("comparison_transfers70", "transfers70")):
        if result.get(key):
            print()
            print(f"{name} beside the floor:")
            print(table(["metric", "floor", name.split()[0], f"{name.split()[0]}/floor"],
                        [[r["metric"], _fmt(r["floor"], r["unit"]),
                          _fmt(r["service"], r["unit"]),
                          "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"]
                         for r in result[key]]))
    if result["targets"]:
        print()
        for t in result["targets"]:
            verdict = "      " if t["met"] is None else "met   " if t["met"] else "MISSED"
            print(f"  {verdict}  {t['target']}: {t['value']}")
    print()


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def peak_rss_cell(rss: dict | None) -> str:
    roles = (rss or {}).get("roles") or {}
    return "/".join(_mib((roles.get(role) or {}).get("peak_rss_per_process"))
                    for role in ("web", "worker", "beat"))


def memory_rows(phases: dict[str, dict]) -> list[list[str]]:
    rows = []
    for name, p in phases.items():
        for role, r in ((p.get("rss_mib") or {}).get("roles") or {}).items():
            if not r:
                continue
            rows.append([name, role, r["processes_at_end"], _mib(r["peak_rss_per_process"]),
                         _mib(r["peak_pss_per_process"]),
                         f"{_mib(r['start']['rss_sum'])} -> {_mib(r['end']['rss_sum'])}",
                         f"{_mib(r['start']['pss_sum'])} -> {_mib(r['end']['pss_sum'])}"])
    return rows


def _growth(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return f"{_mib(start)} -> {_mib(end)}"
    pct = f", {(end - start) * 100 / start:+.1f}%" if start else ""
    return f"{start:.1f} -> {end:.1f} MiB ({end - start:+.1f} MiB{pct})"


def soak_report(phase: dict[str, Any]) -> list[str]:
    """A soak's memory lines: each role's RSS at the window's start and end, the worker's
    pool processes after the warm-up, and the verdict on them."""
    rss = phase.get("rss_mib") or {}
    lines = [f"soak {phase['name']}: {phase['load']['arrival_rate_per_s']}/s open loop, "
             f"{phase['window_s']:.0f} s, {phase['finished']} finished"]
    for role, r in (rss.get("roles") or {}).items():
        if r:
            lines.append(f"  {role:6} RSS sum {_growth(r['start']['rss_sum'], r['end']['rss_sum'])}"
                         f"; largest process "
                         f"{_growth(r['start']['max_rss_per_process'], r['end']['max_rss_per_process'])}")
    grown = rss.get("worker_growth") or {}
    for row in grown.get("processes") or []:
        lines.append(f"  worker pool pid {row['pid']} from {grown['from_s']:.0f} s to "
                     f"{grown['to_s']:.0f} s: {_growth(row['start_mib'], row['end_mib'])}")
    verdict = rss.get("worker_verdict") or {}
    if verdict:
        lines.append(f"  verdict (worker pool processes, the first {grown.get('from_s', 0):.0f} s "
                     f"left out as warm-up): {verdict['line']}")
    return lines


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    return f"{value:g} {unit}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mix = parse_mix(args.mix)
    wanted = wanted_phases(args)
    stamp = time.strftime("%Y%m%dT%H%M%S") + (f"-{args.tag}" if args.tag else "")
    urls = connection_urls()
    if args.fresh_db:
        say(f"recreating {redact(urls['DATABASE_URL'])}")
        recreate_database(urls["DATABASE_URL"])
    result: dict[str, Any] = {
        "bench": "load",
        "started": now_iso(),
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "git": git_state(),
        "connections": {k: redact(v) for k, v in urls.items()},
        "notes": [
            "Each phase: fresh tables, flushed Redis DBs, a fresh stack (devstack.Stack on "
            "free ports, its own run directory), a warm-up that is not measured.",
            "DJANGO_DEBUG=false; TRUSTED_PROXY_COUNT=1 and one X-Forwarded-For address per "
            "app, so throttles stay at their defaults and never fire.",
            "CPU: utime+stime of the web, worker and beat process trees (psutil, children "
            "included) from the first create until queues and the outbox are empty.",
            "submit_to_terminal: the app's send time to the terminal transition's log time "
            "(same machine clock); *_client_seen adds the poll interval.",
        ],
        "phases": {},
    }
    figures = []
    base = dict(web_concurrency=args.web, worker_concurrency=args.workers,
                poll_interval=args.poll, warmup=args.warmup, wait_quiet=not args.no_wait_quiet,
                read_probe=args.read_probe, rss_warmup_s=args.rss_warmup)
    profile_dir = args.out / f"profile-{stamp}" if args.profile else None
    settings_module = "bench.settings" if args.profile else "config.settings.dev"

    def record(run) -> dict:
        summary = summarize(run)
        result["phases"][run.config.name] = summary
        data = series(run)
        data["events"] = run.events
        figures.append((run.config.name, data))
        write_json(args.out / f"bench-{stamp}.json", result)  # partial results survive a crash
        return summary

    peaks: dict[str, float] = {}
    for name in wanted:
        closed = name in CLOSED
        flow = "transfers" if name.startswith("transfers") else "provisioning"
        outcome_mix = ({"green": 1.0} if name.startswith("green")
                       else TRANSFER_MIX if flow == "transfers" else mix)
        profiled = dict(profile_dir=profile_dir / name, profile_mode=args.profile) \
            if profile_dir and name != "floor" else {}
        if closed:
            config = PhaseConfig(
                name=name, count=args.count, mix=outcome_mix, concurrency=args.apps,
                floor_hops=args.hops if name == "floor" else None,
                settings_module="bench.settings" if name == "floor" else settings_module,
                flow=flow, **profiled, **base)
        else:
            source = name[:-2]  # green70 -> green, mix70 -> mix, transfers70 -> transfers
            peak = peaks.get(source)
            rate = args.rate or (peak and round(peak * args.rate_fraction, 2))
            if not rate:
                raise SystemExit(f"{name} needs the {source} phase's peak first, or --rate")
            result[f"peak_for_{name}_per_s"] = peak
            if rate * args.open_seconds > MAX_OPEN_LOOP_APPS:
                raise SystemExit(f"{name}: {rate}/s for {args.open_seconds:g} s is more than "
                                 f"{MAX_OPEN_LOOP_APPS} apps; lower --rate or --open-seconds")
            config = PhaseConfig(
                name=name, count=max(int(rate * args.open_seconds), 10), mix=outcome_mix,
                concurrency=None, rate=rate, settings_module=settings_module, flow=flow,
                **profiled, **base)
        summary = record(run_phase(config))
        if closed:
            peaks[name] = summary["steady_throughput_per_s"] or summary["throughput_per_s"]
    result["comparison"] = compare(result["phases"].get("floor"), result["phases"].get("green"))
    for name in ("transfers", "transfers70"):
        result[f"comparison_{name}"] = compare(result["phases"].get("floor"),
                                               result["phases"].get(name))
    result["targets"] = targets(result["phases"])
    result["finished"] = now_iso()
    result["machine"]["loadavg_at_end"] = loadavg()
    json_path = write_json(args.out / f"bench-{stamp}.json", result)
    png_path = latency_figure(figures, args.out / f"bench-{stamp}.png",
                              title=f"bench {stamp}: web {args.web}, worker {args.workers}")
    print_report(result)
    if args.soak:
        for name in wanted:
            if name not in CLOSED:
                print("\n".join(soak_report(result["phases"][name])) + "\n")
    print(f"results: {json_path}\nplot:    {png_path}")
    if profile_dir:
        from .profiling import report

        for directory in sorted({p.parent for p in profile_dir.rglob("*-[0-9]*.*")}):
            report(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
