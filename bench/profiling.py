"""CPU profiles of the service's own processes under load (pyinstrument, sampling on the
thread's CPU clock, so time spent waiting on sockets is left out).

Switched on by BENCH_PROFILE_DIR (bench/run.py --profile sets it):

- web: gunicorn loads this file as its config (`GUNICORN_CMD_ARGS="-c bench/profiling.py"`);
  the post_fork / worker_exit hooks below profile each web worker for its whole life;
- worker: bench/settings.py connects Celery's worker_process_init / _shutdown signals to
  the same start / stop, so each prefork child is profiled.

Each process saves a pyinstrument session `<kind>-<pid>.pyisession`;
`python -m bench.profiling DIR` combines them per kind and writes text and HTML reports.
A profiled process runs slower: its numbers are for attribution, never the bench's.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_profiler = None
_kind = ""


def start(kind: str) -> None:
    global _profiler, _kind
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if not directory or _profiler is not None:
        return
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    # Sample on this thread's CPU clock: the profile then shows where CPU goes, not
    # where the process waits (the sandbox's answers, PostgreSQL, Redis).
    get_stack_sampler().timer_func = time.thread_time
    _kind = kind
    _profiler = Profiler(interval=0.001, async_mode="disabled")
    _profiler.start()


def stop() -> None:
    global _profiler
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if _profiler is None or not directory:
        return
    try:
        session = _profiler.stop()
        path = Path(directory) / f"{_kind}-{os.getpid()}.pyisession"
        session.save(str(path))
    finally:
        _profiler = None


# --- gunicorn hooks (this file is also a gunicorn config file) -----------------------------

def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    start("web")


def worker_exit(server, worker):  # noqa: ARG001
    stop()


# --- Celery hooks (connected by bench/settings.py when profiling) --------------------------

def connect_celery_signals() -> None:
    from celery import signals

    @signals.worker_process_init.connect(weak=False)
    def _start(**_kwargs):
        start("worker")

    @signals.worker_process_shutdown.connect(weak=False)
    def _stop(**_kwargs):
        stop()


# --- combining -----------------------------------------------------------------------------

def report(directory: Path) -> dict[str, Path]:
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    written = {}
    for kind in ("web", "worker"):
        sessions = [Session.load(str(p)) for p in sorted(directory.glob(f"{kind}-*.pyisession"))]
        if not sessions:
            continue
        combined = sessions[0]
        for other in sessions[1:]:
            combined = Session.combine(combined, other)
        tree = ConsoleRenderer(unicode=False, color=False, time="percent_of_total",
                               show_all=False).render(combined)
        flat = ConsoleRenderer(unicode=False, color=False, time="percent_of_total",
                               flat=True).render(combined)
        (directory / f"{kind}.txt").write_text(tree)
        (directory / f"{kind}-flat.txt").write_text(flat)
        (directory / f"{kind}.html").write_text(HTMLRenderer().render(combined))
        written[kind] = directory / f"{kind}.txt"
        print(f"{kind}: {len(sessions)} process(es) "
              f"-> {directory / f'{kind}.txt'}, {kind}-flat.txt, {kind}.html")
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bench.profiling DIR")
    report(Path(sys.argv[1]))
