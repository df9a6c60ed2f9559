"""gunicorn settings: prometheus_client multiprocess mode for /metrics across workers.

Each gunicorn worker is its own process with its own metrics; in multiprocess mode they
write to files in PROMETHEUS_MULTIPROC_DIR and /metrics (config.metrics.metrics_view)
adds them up. The master makes a fresh directory before forking (stale files from a
previous run would be counted) and marks a dead worker's files so its gauges go away.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# The access and error logs through the redaction filter (a URL can carry a card number).
logger_class = "config.gunicorn_logging.RedactingLogger"
# gunicorn 25+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl): two servers on one machine (a demo and a test run) would
# fight over it, and nothing here manages gunicorn through it.
control_socket_disable = True


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-web-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
