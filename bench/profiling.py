"""CPU profiles of the service's own processes under load.

Switched on by BENCH_PROFILE_DIR (bench/run.py --profile sets it and runs the service
under bench/settings.py, which wires this in):

- web: ProfileMiddleware (first in MIDDLEWARE) starts a profiler in each gunicorn worker
  on its first request; it is saved when the worker exits (atexit);
- worker: Celery's worker_process_init / worker_process_shutdown signals start and save
  one in each prefork child, worker_ready / worker_shutdown one in the main process.

Three profilers (BENCH_PROFILE_MODE):

- `cpu` (default): a statistical sampler on the process's CPU clock (setitimer
  ITIMER_PROF, one stack sample per 2 ms of CPU). Sampling costs nothing between
  samples, so call-heavy code is not over-counted. Writes `<kind>-<pid>.collapsed`
  (flame-graph "collapsed stack" lines).
- `pyinstrument`: pyinstrument's call tree on the wall clock (`<kind>-<pid>.pyisession`).
  Time spent waiting on sockets shows up in it; and with a CPU timer pyinstrument charges
  its per-call overhead to call-heavy code (it over-counted redis-py's client constructor
  about threefold here), which is why `cpu` is the default.

- `queries`: counts SQL statements per request (method and route) and per task, with
  their shapes (`<kind>-<pid>.queries.json`).

`python -m bench.profiling DIR` reports every profile found under DIR: CPU by layer (the
innermost library or service area a sample is in), by entry point (view or task), and
the service's own functions, inclusive and self. A profiled process runs a little slower;
its throughput is not the bench's.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path

_profiler = None
_kind = ""
INTERVAL_S = 0.002


class CpuSampler:
    """Counts stacks, one sample per INTERVAL_S of process CPU (SIGPROF, main thread)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self._busy = False

    def _sample(self, signum, frame) -> None:
        # A signal handler interrupts whatever the process is doing, the request included:
        # it only reads frames and strings (no pathlib, no allocation-heavy calls that
        # could recurse into themselves), and a sample taken while one is being taken is
        # dropped, so the profiler never raises into the code it measures.
        if self._busy:
            return
        self._busy = True
        try:
            names = []
            while frame is not None:
                code = frame.f_code
                names.append(f"{_short(code.co_filename)}:{code.co_name}")
                frame = frame.f_back
            self.counts[";".join(reversed(names))] += 1
        finally:
            self._busy = False

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, INTERVAL_S, INTERVAL_S)

    def stop(self, path: Path) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        with open(path, "w") as out:
            for stack, count in self.counts.items():
                out.write(f"{stack} {count}\n")


_PREFIXES = [p for p in sys.path if p and p.endswith(("site-packages", "lib/python3.11"))]
_ROOT = str(Path(__file__).resolve().parent.parent)  # once, here: never in the handler


def _short(filename: str) -> str:
    for prefix in _PREFIXES:
        if filename.startswith(prefix):
            return filename[len(prefix) + 1:]
    return filename[len(_ROOT) + 1:] if filename.startswith(_ROOT) else filename


class QueryCounter:
    """SQL statements per request (method and route) or per task, and their shapes."""

    def __init__(self) -> None:
        self.entry = "(between units)"
        self.units: Counter = Counter()
        self.queries: Counter = Counter()
        self.shapes: Counter = Counter()

    def begin(self, entry: str) -> None:
        self.entry = entry
        self.units[entry] += 1

    def __call__(self, execute, sql, params, many, context):
        self.queries[self.entry] += 1
        self.shapes[(self.entry, _shape(sql))] += 1
        return execute(sql, params, many, context)

    def install(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created

        def attach(connection, **_kwargs):
            if self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

        connection_created.connect(attach, weak=False)
        for connection in connections.all(initialized_only=True):
            attach(connection)

    def start(self) -> None:
        self.install()

    def stop(self, path: Path) -> None:
        import json

        data = {}
        for entry, units in self.units.items():
            shapes = sorted(((shape, n) for (e, shape), n in self.shapes.items() if e == entry),
                            key=lambda item: -item[1])
            data[entry] = {"units": units, "queries": self.queries[entry],
                           "per_unit": round(self.queries[entry] / units, 2),
                           "shapes_per_unit": [[shape, round(n / units, 2)] for shape, n in shapes]}
        path.write_text(json.dumps(data, indent=1))


_SHAPE = [(re.compile(p), r) for p, r in (
    (r'"[a-z_]+"\."([a-z_]+)"', r"\1"),  # "table"."column" -> column
    (r"SELECT .*? FROM", "SELECT ... FROM"),
    (r"\(%s(, %s)*\)", "(...)"),
    (r"VALUES .*", "VALUES (...)"),
    (r"SET .*? WHERE", "SET ... WHERE"),
    (r'SAVEPOINT "[^"]+"', "SAVEPOINT"),
)]


def _shape(sql: str) -> str:
    for index, (pattern, replacement) in enumerate(_SHAPE):
        sql = pattern.sub(replacement, sql, count=0 if index == 0 else 1)
    return sql[:140]


def unit_started(entry: str) -> None:
    if isinstance(_profiler, QueryCounter):
        _profiler.begin(entry)


def start(kind: str) -> None:
    global _profiler, _kind
    if not os.environ.get("BENCH_PROFILE_DIR") or _profiler is not None:
        return
    _kind = kind
    mode = os.environ.get("BENCH_PROFILE_MODE", "cpu")
    if mode == "queries":
        _profiler = QueryCounter()
    elif mode == "pyinstrument":
        from pyinstrument import Profiler

        _profiler = Profiler(interval=0.001, async_mode="disabled")
    else:
        _profiler = CpuSampler()
    _profiler.start()


def stop() -> None:
    global _profiler
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if _profiler is None or not directory:
        return
    try:
        stem = Path(directory) / f"{_kind}-{os.getpid()}"
        if isinstance(_profiler, CpuSampler):
            _profiler.stop(stem.with_suffix(".collapsed"))
        elif isinstance(_profiler, QueryCounter):
            _profiler.stop(stem.with_suffix(".queries.json"))
        else:
            _profiler.stop().save(str(stem.with_suffix(".pyisession")))
    finally:
        _profiler = None


# --- web: a middleware (gunicorn's own config file is the service's) ------------------------

class ProfileMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _profiler is None:
            import atexit

            start("web")
            atexit.register(stop)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        unit_started(f"{request.method} /{match.route if match else request.path}")


# --- Celery hooks (connected by bench/settings.py when profiling) --------------------------

def connect_celery_signals() -> None:
    from celery import signals

    @signals.worker_process_init.connect(weak=False)
    def _start(**_kwargs):
        start("worker")

    @signals.worker_process_shutdown.connect(weak=False)
    def _stop(**_kwargs):
        stop()

    @signals.task_prerun.connect(weak=False)
    def _unit(task=None, **_kwargs):
        unit_started(getattr(task, "name", "?"))

    # The worker's main process: the consumer that reads the broker and feeds the pool.
    @signals.worker_ready.connect(weak=False)
    def _start_main(**_kwargs):
        start("worker-main")

    @signals.worker_shutdown.connect(weak=False)
    def _stop_main(**_kwargs):
        stop()


# --- reports ---------------------------------------------------------------------------------

# A sample belongs to the innermost frame that matches one of these (first match wins
# for a frame). Order matters only within one frame's name.
LAYERS = [
    ("throttling (DRF throttles, cache)", r"rest_framework/throttling|config/throttling"),
    ("Redis client (redis-py)", r"^redis/"),
    ("DB driver (psycopg)", r"^psycopg"),
    ("ORM (django.db)", r"^django/db/"),
    ("HTTP client (requests, urllib3)", r"^(requests|urllib3)/"),
    ("crypto (JOSE, AES, HMAC)", r"^(joserfc|cryptography)/|core/crypto|core/outside/http_signature"),
    ("Celery publish (kombu)", r"^kombu/|celery/app/(amqp|base)"),
    ("logging (JSON, redaction)", r"^logging/|pythonjsonlogger|config/redaction|config/correlation"),
    ("metrics (prometheus)", r"prometheus"),
    ("DRF serializers, fields", r"^rest_framework/(serializers|fields|relations|utils)"),
    ("DRF views, request, auth", r"^rest_framework/|config/auth"),
    ("django-fsm, signals", r"^django_fsm/|django/dispatch"),
    ("Django request handling, middleware", r"^django/(core|middleware|contrib|utils|http|urls)|^axes/"),
    ("gunicorn", r"^gunicorn/"),
    ("Celery worker (trace, pool, consumer)", r"^(celery|billiard|kombu|vine)/"),
    ("JSON (stdlib)", r"^json/"),
]
_LAYER_RE = [(name, re.compile(pattern)) for name, pattern in LAYERS]
SERVICE = re.compile(r"^(config|core|provisioning|transfers|tokens|notifications|decisioning|"
                     r"bench)/")
ENTRY = re.compile(r"^(provisioning|transfers|tokens|notifications|decisioning|bench)/"
                   r"(api/views|tasks|webhooks|floor_app/(views|tasks))\.py:(\w+)")


def load_collapsed(paths) -> Counter:
    counts: Counter = Counter()
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            counts[stack] += int(count)
    return counts


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in _LAYER_RE:
            if pattern.search(frame):
                return name
        if SERVICE.match(frame):
            return "service code (own lines)"
    return "other (interpreter, stdlib)"


def entry_of(frames: list[str]) -> str:
    for frame in frames:
        found = ENTRY.match(frame)
        if found:
            return f"{found.group(1)}/{found.group(2)}:{found.group(4)}"
    return "(outside views and tasks)"


def cpu_report(counts: Counter, top: int = 40) -> str:
    total = sum(counts.values()) or 1
    layers, entries, inclusive, own = Counter(), Counter(), Counter(), Counter()
    for stack, n in counts.items():
        frames = stack.split(";")
        layers[layer_of(frames)] += n
        entries[entry_of(frames)] += n
        service = [f for f in frames if SERVICE.match(f)]
        for name in set(service):
            inclusive[name] += n
        if service:
            own[service[-1]] += n  # innermost service frame: its own lines and callees

    def block(title: str, counter: Counter, limit: int) -> list[str]:
        lines = [title]
        for name, n in counter.most_common(limit):
            lines.append(f"  {100 * n / total:5.1f}%  {name}")
        return lines + [""]

    out = [f"{total} samples of {INTERVAL_S * 1000:.0f} ms CPU = {total * INTERVAL_S:.1f} s CPU", ""]
    out += block("CPU by layer (innermost match):", layers, 30)
    out += block("CPU by entry point:", entries, 20)
    out += block("Service functions, inclusive (the function and everything it calls):",
                 inclusive, top)
    out += block("Service functions, innermost (CPU under it that no deeper service "
                 "function claims):", own, top)
    return "\n".join(out)


def queries_report(paths) -> str:
    import json

    units: Counter = Counter()
    queries: Counter = Counter()
    shapes: dict[str, Counter] = {}
    for path in paths:
        for entry, data in json.loads(Path(path).read_text()).items():
            units[entry] += data["units"]
            queries[entry] += data["queries"]
            for shape, per_unit in data["shapes_per_unit"]:
                shapes.setdefault(entry, Counter())[shape] += per_unit * data["units"]
    lines = []
    for entry, n in units.most_common():
        lines.append(f"{entry}: {n} runs, {queries[entry] / n:.1f} statements each")
        for shape, total in shapes.get(entry, Counter()).most_common(25):
            lines.append(f"   {total / n:5.2f}  {shape}")
        lines.append("")
    return "\n".join(lines)


def report(directory: Path) -> None:
    for kind in ("web", "worker", "worker-main"):
        collapsed = sorted(directory.glob(f"{kind}-[0-9]*.collapsed"))
        if collapsed:
            counts = load_collapsed(collapsed)
            (directory / f"{kind}.collapsed").write_text(
                "".join(f"{stack} {n}\n" for stack, n in counts.most_common()))
            text = cpu_report(counts)
            (directory / f"{kind}-cpu.txt").write_text(text)
            print(f"{directory / f'{kind}-cpu.txt'} ({len(collapsed)} process(es))")
        counted = sorted(directory.glob(f"{kind}-[0-9]*.queries.json"))
        if counted:
            text = queries_report(counted)
            (directory / f"{kind}-queries.txt").write_text(text)
            print(f"{directory / f'{kind}-queries.txt'} ({len(counted)} process(es))")
        sessions = sorted(directory.glob(f"{kind}-[0-9]*.pyisession"))
        if sessions:
            from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
            from pyinstrument.session import Session

            combined = Session.load(str(sessions[0]))
            for other in sessions[1:]:
                combined = Session.combine(combined, Session.load(str(other)))
            (directory / f"{kind}.txt").write_text(ConsoleRenderer(
                unicode=False, color=False, time="percent_of_total").render(combined))
            (directory / f"{kind}.html").write_text(HTMLRenderer().render(combined))
            print(f"{directory / f'{kind}.txt'} ({len(sessions)} process(es))")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bench.profiling DIR (a profile-* directory)")
    found = sorted({p.parent for p in Path(sys.argv[1]).rglob("*-[0-9]*.*")
                    if p.suffix in (".collapsed", ".pyisession", ".json")})
    if not found:
        raise SystemExit(f"no profiles under {sys.argv[1]}")
    for directory in found:
        report(directory)
