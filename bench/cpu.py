"""CPU accounting of the bench stack's process trees (psutil), of the machine, of the
load generator and of the PostgreSQL backends that served the run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .common import SERVICE_PROCESSES, BenchStack, loadavg, pg_connect


def own_cpu_seconds(pid: int | None) -> float:
    """utime + stime of one process (the tree's leader: gunicorn's master, Celery's consumer)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times() if pid else None
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system if times else 0.0


def tree_cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process and all its descendants, plus what they reaped.

    `children_user/system` of each process holds the CPU of its children that have
    exited and been waited for, so a pool child recycled mid-run still counts, once.
    """
    import psutil

    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, all processes)."""
    import psutil

    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in
               ("user", "nice", "system", "irq", "softirq", "steal", "guest"))


def wait_for_quiet(max_cores: float = 0.25, sample: float = 5.0, timeout: float = 180.0) -> dict:
    """Wait (bounded) until the machine's busy CPU over `sample` seconds is under
    `max_cores`: other people's test runs would otherwise be in our numbers. Returns
    what was seen; never fails (the report says how busy it was)."""
    started = time.monotonic()
    while True:
        before = system_busy_seconds()
        time.sleep(sample)  # the measurement window itself, not a stand-in for a condition
        busy = (system_busy_seconds() - before) / sample
        waited = time.monotonic() - started
        if busy <= max_cores or waited >= timeout:
            return {"busy_cores_before": round(busy, 2), "waited_s": round(waited, 1),
                    "quiet": busy <= max_cores, "loadavg": loadavg()}


def self_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_backends_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving our database, by pid."""
    import psutil

    try:
        with pg_connect(database_url) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()").fetchall()]
    except Exception:  # descriptive only
        return {}
    found = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[pid] = times.user + times.system
    return found


@dataclass
class CpuMeter:
    """CPU of the stack's process trees between start() and stop()."""

    stack: BenchStack
    started: dict[str, float] = field(default_factory=dict)
    pids: dict[str, int | None] = field(default_factory=dict)
    backends: dict[int, float] = field(default_factory=dict)

    def snapshot(self) -> dict[str, float]:
        values = {}
        for name in (*SERVICE_PROCESSES, "sandbox"):
            pid = self.stack.pid(name)
            # A worker restarted mid-run (the fault runs) is a new tree: its old tree's
            # CPU up to the kill was lost with it, so CPU there is a lower bound.
            self.pids.setdefault(name, pid)
            values[name] = tree_cpu_seconds(pid)
            if name in ("web", "worker"):
                values[f"{name}_main"] = own_cpu_seconds(pid)
        values["loadgen"] = self_cpu_seconds()
        values["machine"] = system_busy_seconds()
        return values

    def start(self) -> None:
        self.started = self.snapshot()
        self.backends = postgres_backends_cpu(self.stack.env["DATABASE_URL"])

    def stop(self) -> dict[str, float]:
        ended = self.snapshot()
        spent = {name: max(ended[name] - self.started.get(name, 0.0), 0.0) for name in ended}
        # Backends that served us (a backend born in the window counts from zero; one
        # that ended in it is missed). PostgreSQL is not "the service's own process".
        backends = postgres_backends_cpu(self.stack.env["DATABASE_URL"])
        spent["postgres_backends"] = sum(max(cpu - self.backends.get(pid, 0.0), 0.0)
                                         for pid, cpu in backends.items())
        return spent
