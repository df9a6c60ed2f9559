"""A Celery worker's /metrics: one HTTP server in the worker's main process, showing what
every prefork child counted (prometheus_client's multiprocess mode).

Why this shape is in docs/adr/0002-worker-metrics.md. prometheus_client picks its value
class (in memory, or files shared by processes) from PROMETHEUS_MULTIPROC_DIR when it is
first imported, and the Celery worker sets Django up (which imports it) before any
worker signal fires. So the directory is prepared here, at import of config.celery,
which `celery -A config worker` does before anything else.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import tempfile

from celery import signals

logger = logging.getLogger(__name__)

PORT_VARIABLE = "WORKER_METRICS_PORT"
ADDR_VARIABLE = "WORKER_METRICS_ADDR"
DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Set once the directory is prepared, so a child started by spawn (which imports this
# module again) does not wipe what its siblings have written.
_PREPARED_VARIABLE = "WORKER_METRICS_PREPARED"


def _port() -> int:
    return int(os.environ.get(PORT_VARIABLE) or 0)


def _starting_a_worker(argv: list[str]) -> bool:
    """`celery ... worker ...` (not inspect, beat or web, which share the environment in
    a container and must not touch the worker's metric files)."""
    if not argv or "worker" not in argv[1:]:
        return False
    # `celery` (console script) or `python -m celery` (argv[0] is celery/__main__.py).
    return os.path.basename(argv[0]) == "celery" or \
        os.path.basename(os.path.dirname(argv[0])) == "celery"


def prepare_metrics_directory(argv: list[str] | None = None) -> str | None:
    """Point prometheus_client at a directory every worker process writes its samples to;
    returns it, or None when this process is not a worker serving metrics."""
    argv = sys.argv if argv is None else argv
    if not _port() or not _starting_a_worker(argv) or os.environ.get(_PREPARED_VARIABLE):
        return os.environ.get(DIR_VARIABLE) if os.environ.get(_PREPARED_VARIABLE) else None
    if "prometheus_client" in sys.modules:
        logger.error("prometheus_client was imported before the worker's metrics directory "
                     "was set; worker metrics would miss the pool's children")
    directory = os.environ.get(DIR_VARIABLE)
    if directory:
        # One directory per worker instance: files of an earlier run (other pids) would
        # otherwise be added to this run's counters for ever.
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(stale)
    else:
        directory = tempfile.mkdtemp(prefix="worker-metrics-")
        os.environ[DIR_VARIABLE] = directory  # inherited by every child of the pool
    os.environ[_PREPARED_VARIABLE] = str(os.getpid())
    return directory


prepare_metrics_directory()


@signals.worker_ready.connect(dispatch_uid="core.observability.worker_metrics.serve")
def serve_metrics(sender=None, **_kwargs):
    """Start the exporter thread in the main process once the pool is up."""
    port = _port()
    if not port:
        return
    from prometheus_client import start_http_server, values

    from core.observability.metrics import export_registry

    if values.ValueClass.__name__ != "MmapedValue":
        logger.error("worker metrics are not in multiprocess mode: only the main process's "
                     "samples are served; see docs/adr/0002-worker-metrics.md")
    address = os.environ.get(ADDR_VARIABLE, "0.0.0.0")
    server, _thread = start_http_server(port, addr=address, registry=export_registry())
    logger.info("worker metrics served",
                extra={"port": server.server_port,
                       "multiprocess": bool(os.environ.get(DIR_VARIABLE))})


@signals.worker_process_shutdown.connect(dispatch_uid="core.observability.worker_metrics.child_exit")
def forget_child_gauges(pid=None, **_kwargs):
    """A child that exits takes its live gauges with it (counters and histograms stay)."""
    if not os.environ.get(DIR_VARIABLE):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())
