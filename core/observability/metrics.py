"""Prometheus metrics beyond django-prometheus's HTTP ones: committed state-machine
transitions, Celery task durations, retries and failures, and the gauges each app reads
from the database at scrape time (its own `metrics.py`, registered in its `ready()`).

The outside-call histogram lives with the outside-call plumbing (core/outside/http.py);
each app keeps its own counters (provisioning_failures_total, notifications_total,
token_reconcile_drift_total, ...).
Web serves these at /metrics; a worker serves them on WORKER_METRICS_PORT (see
core/observability/worker_metrics.py and docs/adr/0002-worker-metrics.md).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from celery import signals as celery_signals
from django.db import transaction
from django.dispatch import receiver
from django_fsm.signals import post_transition
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

TRANSITIONS = Counter(
    "transitions_total",
    "State-machine transitions that committed, by machine, from, to and trigger",
    ["machine", "from_state", "to_state", "trigger"],
)
TASK_SECONDS = Histogram(
    "celery_task_seconds",
    "Run time of a Celery task, by task and outcome (success, retry, failure)",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TASK_RETRIES = Counter("celery_task_retries_total", "Celery task retries scheduled", ["task"])
TASK_FAILURES = Counter(
    "celery_task_failures_total", "Celery tasks that ended in an exception", ["task", "exception"]
)


@receiver(post_transition, dispatch_uid="core.observability.metrics.count_transition")
def count_transition(sender, instance, name, source, target, method_kwargs=None, **_kwargs):
    """Count a transition once it has committed: a rolled-back move never happened."""
    from core.transitions import machine_of

    machine = machine_of(sender) or sender._meta.model_name
    trigger = str((method_kwargs or {}).get("by") or "")
    transaction.on_commit(
        lambda: TRANSITIONS.labels(machine, str(source), str(target), trigger).inc())


# --- Celery tasks ---------------------------------------------------------------------
# prerun and postrun run in the same (child) process, so a process-local dict of start
# times keyed by task id is enough.
_task_started: dict[str, float] = {}


@celery_signals.task_prerun.connect(dispatch_uid="core.observability.metrics.task_prerun")
def _task_prerun(task_id=None, **_kwargs):
    _task_started[task_id] = time.perf_counter()


@celery_signals.task_postrun.connect(dispatch_uid="core.observability.metrics.task_postrun")
def _task_postrun(task_id=None, task=None, state=None, **_kwargs):
    started = _task_started.pop(task_id, None)
    if started is None or task is None:
        return
    TASK_SECONDS.labels(task.name, str(state or "unknown").lower()).observe(
        time.perf_counter() - started)


@celery_signals.task_retry.connect(dispatch_uid="core.observability.metrics.task_retry")
def _task_retry(sender=None, **_kwargs):
    TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


@celery_signals.task_failure.connect(dispatch_uid="core.observability.metrics.task_failure")
def _task_failure(sender=None, exception=None, **_kwargs):
    TASK_FAILURES.labels(getattr(sender, "name", "unknown"), type(exception).__name__).inc()


# --- gauges read from the database at scrape time ---------------------------------------

@dataclass(frozen=True)
class DatabaseGauges:
    """One app's gauges read from the database at scrape time: `describe()` names its
    families without touching the database, `read()` yields them filled in."""

    name: str  # the `family` label of metrics_collector_errors
    describe: Callable[[], list[GaugeMetricFamily]]
    read: Callable[[], Iterable[GaugeMetricFamily]]


_GAUGES: dict[str, DatabaseGauges] = {}


def register_database_gauges(gauges: DatabaseGauges) -> None:
    """Called by an app's ready(); the same name twice replaces (a reloaded app)."""
    _GAUGES[gauges.name] = gauges


def _collector_errors() -> GaugeMetricFamily:
    return GaugeMetricFamily("metrics_collector_errors",
                             "1 when a database gauge could not be read on this scrape",
                             labels=["family"])


class DatabaseStateCollector:
    """Every registered app's database gauges, each read in a savepoint of its own.

    Apps count only what is open (a few rows, read through partial indexes), so a scrape
    costs the same on a table of millions. A failing read drops its own families and sets
    metrics_collector_errors{family}, never the whole scrape.
    """

    def describe(self):
        return [family for gauges in _GAUGES.values() for family in gauges.describe()] + [
            _collector_errors()]

    def collect(self):
        from django.db import close_old_connections, connection

        # This may run in a thread of its own (the worker's metrics server), where no
        # request cycle recycles a broken or aged connection. Never inside a transaction
        # someone else opened (a test's): closing would end it.
        if not connection.in_atomic_block:
            close_old_connections()
        errors = _collector_errors()
        for name, gauges in sorted(_GAUGES.items()):
            try:
                with transaction.atomic():  # a savepoint when called inside a transaction
                    families = list(gauges.read())
            except Exception:  # a scrape reports the failure, it must not fail itself
                logger.warning("metrics collector could not read %s", name, exc_info=True)
                errors.add_metric([name], 1)
                continue
            errors.add_metric([name], 0)
            yield from families
        yield errors


_database_collector = DatabaseStateCollector()
_registered = False


def register_default_collectors() -> None:
    """Put the database gauges on the default registry (what /metrics serves); once."""
    global _registered
    if not _registered:
        REGISTRY.register(_database_collector)
        _registered = True


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def export_registry() -> CollectorRegistry:
    """What to serve: in multiprocess mode every process's files plus the database gauges
    (read once here, not per process); otherwise this process's default registry."""
    if not multiprocess_mode():
        register_default_collectors()
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_database_collector)
    return registry


def metrics_view(request):
    """/metrics for web that stays right with several gunicorn workers (multiprocess mode)."""
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return HttpResponse(generate_latest(export_registry()), content_type=CONTENT_TYPE_LATEST)
