"""Memory of the bench stack's processes (psutil): RSS and PSS of each web, worker and beat
process, sampled through a phase's measured window, and whether a worker grows over a soak.

A role is one of the stack's process trees: `web` (gunicorn's master and its workers),
`worker` (Celery's main process and its pool children), `beat`. In a tree the leader is
the `main` process and every descendant a `child`. RSS counts every page a process maps,
shared or not, so forked children that share the master's pages each count them in full;
PSS (proportional set size) divides each shared page among the processes mapping it, so a
role's PSS sum is what the role really costs the machine.

The sampler runs in a thread of the load generator (its CPU is in the load generator's):
one look a second costs ~0.5 ms per process (PSS reads /proc/<pid>/smaps_rollup); the
trees' members are looked up again every `refresh_s` seconds and whenever one is gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .common import SERVICE_PROCESSES

MIB = 2**20
# Growth a soak accepts for each of the worker's pool processes, after its warm-up.
MAX_GROWTH_PCT = 10.0
MAX_GROWTH_MIB = 20.0
SOAK_WARMUP_S = 60.0

# One process seen once: (kind, rss bytes, pss bytes or None); kind "main" or "child".
Seen = tuple[str, int, int | None]
# One look at one role: (seconds since the sampler started, {pid: Seen}).
Sample = tuple[float, dict[int, Seen]]


def tree_members(leaders: Mapping[str, int | None]) -> dict[str, dict[int, str]]:
    """Each role's processes, {role: {pid: "main" | "child"}}, from one scan of /proc."""
    import psutil

    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(process.info["ppid"], []).append(process.pid)
    members: dict[str, dict[int, str]] = {}
    for role, leader in leaders.items():
        if leader is None or not psutil.pid_exists(leader):
            members[role] = {}
            continue
        found, todo = {leader: "main"}, list(children.get(leader, ()))
        while todo:
            pid = todo.pop()
            if pid not in found:
                found[pid] = "child"
                todo.extend(children.get(pid, ()))
        members[role] = found
    return members


def look(pids: Mapping[int, str], pss: bool = True) -> tuple[dict[int, Seen], bool]:
    """RSS (and PSS) of each process; the second value is False when one has gone."""
    import psutil

    seen: dict[int, Seen] = {}
    complete = True
    for pid, kind in pids.items():
        try:
            process = psutil.Process(pid)
            if pss:
                info = process.memory_full_info()
                seen[pid] = (kind, info.rss, getattr(info, "pss", None))
            else:
                seen[pid] = (kind, process.memory_info().rss, None)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            complete = False
        except psutil.AccessDenied:  # not ours: only its RSS is readable
            try:
                seen[pid] = (kind, psutil.Process(pid).memory_info().rss, None)
            except psutil.Error:
                complete = False
    return seen, complete


class RssSampler:
    """Samples each role's processes every `interval` seconds between start() and stop().

    `leaders` gives each role's leader pid when asked (the stack's, so a worker restarted
    mid-run is followed). Memory: one small dict per role and second, ~10^4 an hour.
    """

    def __init__(self, leaders: Callable[[], Mapping[str, int | None]], *,
                 interval: float = 1.0, pss: bool = True, refresh_s: float = 10.0) -> None:
        self.leaders = leaders
        self.interval = interval
        self.pss = pss
        self.refresh_s = refresh_s
        self.series: dict[str, list[Sample]] = {}
        self._members: dict[str, dict[int, str]] = {}
        self._refreshed = -float("inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    @classmethod
    def of_stack(cls, stack, **kwargs) -> RssSampler:
        return cls(lambda: {role: stack.pid(role) for role in SERVICE_PROCESSES}, **kwargs)

    def sample(self) -> bool:
        """One look at every role; False once no role has a process left (stack down)."""
        now = time.monotonic() - self._t0
        if now - self._refreshed >= self.refresh_s:
            self._members = tree_members(self.leaders())
            self._refreshed = now
            if not any(self._members.values()):
                return False
        gone = False
        for role, pids in self._members.items():
            seen, complete = look(pids, self.pss)
            gone = gone or not complete
            self.series.setdefault(role, []).append((round(now, 2), seen))
        if gone:  # a process ended (or a new one may have started): scan at the next look
            self._refreshed = -float("inf")
        return True

    def _loop(self) -> None:
        # Ends by stop(), or by itself once the stack is down (a phase that failed).
        while not self._stop.wait(self.interval):
            try:
                if not self.sample():
                    return
            except Exception:  # descriptive only: a failed look must not stop the load
                pass

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.sample()  # the window's start, taken before the load begins
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, list[Sample]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._refreshed = -float("inf")  # the end's look sees the trees as they are now
        self.sample()
        return self.series


# --- figures (pure) ------------------------------------------------------------------


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def _sum(seen: Mapping[int, Seen], index: int) -> int | None:
    values = [entry[index] for entry in seen.values()]
    if not values or any(v is None for v in values):
        return None
    return sum(values)


def role_summary(series: Sequence[Sample]) -> dict[str, Any]:
    """One role over a window, in MiB: the peak RSS (and PSS) of any one process in any
    sample, and at the window's start and end each process's largest and the role's sum."""
    if not any(seen for _, seen in series):
        return {}
    peak_rss = max((e[1] for _, seen in series for e in seen.values()), default=None)
    peak_pss = max((e[2] for _, seen in series for e in seen.values() if e[2] is not None),
                   default=None)
    peak_kind = None
    for _, seen in series:
        for kind, rss, _ in seen.values():
            if rss == peak_rss:
                peak_kind = kind
    first, last = series[0][1], series[-1][1]
    return {
        "processes_seen": len({pid for _, seen in series for pid in seen}),
        "processes_at_end": len(last),
        "peak_rss_per_process": _mib(peak_rss),
        "peak_rss_process_kind": peak_kind,
        "peak_pss_per_process": _mib(peak_pss),
        "start": {"max_rss_per_process": _mib(max((e[1] for e in first.values()), default=None)),
                  "rss_sum": _mib(_sum(first, 1)), "pss_sum": _mib(_sum(first, 2))},
        "end": {"max_rss_per_process": _mib(max((e[1] for e in last.values()), default=None)),
                "rss_sum": _mib(_sum(last, 1)), "pss_sum": _mib(_sum(last, 2))},
        "samples": len(series),
    }


def growth(series: Sequence[Sample], after_s: float = SOAK_WARMUP_S,
           kind: str | None = "child") -> dict[str, Any]:
    """RSS growth of each process (of `kind`, or all) that lived from the first sample at
    or after `after_s` (the warm-up excluded) to the last sample: MiB and percent."""
    judged = [(t, seen) for t, seen in series if t >= after_s]
    if len(judged) < 2:
        return {"from_s": after_s, "to_s": series[-1][0] if series else None, "processes": []}
    (t_start, start), (t_end, end) = judged[0], judged[-1]
    rows = []
    for pid, (what, rss, _) in sorted(start.items()):
        if (kind is not None and what != kind) or pid not in end:
            continue
        grown = end[pid][1] - rss
        rows.append({"pid": pid, "kind": what, "start_mib": _mib(rss),
                     "end_mib": _mib(end[pid][1]), "growth_mib": _mib(grown),
                     "growth_pct": round(grown * 100 / rss, 1) if rss else None})
    return {"from_s": t_start, "to_s": t_end, "processes": rows}


def growth_verdict(found: Mapping[str, Any], max_pct: float = MAX_GROWTH_PCT,
                   max_mib: float = MAX_GROWTH_MIB) -> dict[str, Any]:
    """ok when every judged process grew less than `max_pct` and less than `max_mib`;
    None (cannot tell) when no process lived through the judged span."""
    rows = found.get("processes") or []
    rule = f"growth under {max_pct:g}% and under {max_mib:g} MiB per process"
    if not rows:
        return {"ok": None, "line": f"{rule}: cannot tell (no process lived from "
                                    f"{found.get('from_s')} s to the end)"}
    worst_mib = max(r["growth_mib"] for r in rows)
    worst_pct = max(r["growth_pct"] or 0.0 for r in rows)
    ok = worst_mib < max_mib and worst_pct < max_pct
    return {"ok": ok, "worst_growth_mib": worst_mib, "worst_growth_pct": worst_pct,
            "line": f"{rule}: {'ok' if ok else 'GREW'} (largest {worst_mib:+.1f} MiB, "
                    f"{worst_pct:+.1f}%, over {len(rows)} processes, "
                    f"{found['from_s']:.0f}-{found['to_s']:.0f} s)"}


def thin(series: Sequence[Sample], points: int = 360) -> list[dict[str, Any]]:
    """The series for the JSON, at most `points` looks: time, role RSS sum and largest
    process (MiB), and each process's RSS."""
    step = max(1, -(-len(series) // points))
    chosen = list(series[::step])
    if series and chosen[-1] is not series[-1]:
        chosen.append(series[-1])
    return [{"t": t, "rss_sum": _mib(_sum(seen, 1)),
             "max_rss": _mib(max((e[1] for e in seen.values()), default=None)),
             "rss_by_pid": {str(pid): _mib(e[1]) for pid, e in seen.items()}}
            for t, seen in chosen]


def rss_figures(series: Mapping[str, Sequence[Sample]],
                after_s: float = SOAK_WARMUP_S) -> dict[str, Any]:
    """The phase's `rss_mib`: per role its summary and its pool/worker children's growth
    after `after_s`, the worker's verdict, and the thinned series."""
    roles = {role: role_summary(samples) for role, samples in series.items()}
    worker = growth(series.get("worker") or [], after_s)
    return {
        "roles": roles,
        "worker_growth": worker,
        "worker_verdict": growth_verdict(worker),
        "web_growth": growth(series.get("web") or [], after_s),
        "series": {role: thin(samples) for role, samples in series.items()},
    }
