"""gunicorn settings: prometheus_client multiprocess mode for /metrics across workers.

Each gunicorn worker is its own process with its own metrics; in multiprocess mode they
write to files in PROMETHEUS_MULTIPROC_DIR and /metrics (core.observability.metrics.metrics_view)
adds them up. The master makes a fresh directory before forking (stale files from a
previous run would be counted) and marks a dead worker's files so its gauges go away.
It also declares the listeners: the public one and, in production, the internal one.
"""

import os
import shutil
import tempfile

# Listeners. GUNICORN_BIND is the public one. INTERNAL_PORT, when set, is a second TCP
# listener on the same host serving /metrics and the API docs only (core/listeners.py,
# ADR 0006); the public Service never targets it. A --bind on the command line replaces
# this list, and when_ready below refuses to serve without the internal listener.
_public_bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
_internal_port = int(os.environ.get("INTERNAL_PORT") or 0)
bind = [_public_bind]
if _internal_port:
    if _public_bind.startswith(("unix:", "fd://")) or ":" not in _public_bind:
        raise SystemExit("GUNICORN_BIND must be host:port when INTERNAL_PORT is set")
    bind.append(f"{_public_bind.rsplit(':', 1)[0]}:{_internal_port}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# The access and error logs through the redaction filter (a URL can carry a card number).
logger_class = "core.observability.gunicorn_logging.RedactingLogger"
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


def when_ready(server):
    """Refuse to serve unless the listeners are what the app expects: exactly one TCP
    listener on INTERNAL_PORT, and the public ones elsewhere. Without it /metrics would
    silently vanish; a public listener on that port would serve it to everyone."""
    if not _internal_port:
        return
    ports = [address[1] for address in (listener.getsockname() for listener in server.LISTENERS)
             if isinstance(address, tuple)]
    if ports.count(_internal_port) != 1 or len(ports) != len(server.LISTENERS) or len(ports) < 2:
        server.log.error(
            "INTERNAL_PORT=%s needs gunicorn on exactly one TCP listener on that port beside "
            "the public one (listening on ports %s; a --bind on the command line replaces "
            "config/gunicorn.py's binds: use GUNICORN_BIND)", _internal_port, ports)
        raise SystemExit(1)
