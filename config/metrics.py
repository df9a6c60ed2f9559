"""Prometheus metrics beyond django-prometheus's HTTP ones: committed state-machine
transitions, failures by code, requests per state and stuck requests (read from the
database at scrape time), Celery task durations, retries and failures.

The outside-call histogram lives with the outside-call plumbing (config/outside.py),
notification send outcomes with the notifications app (notifications_total), token
reconciliation drift with tokens.services (token_reconcile_drift_total).
Web serves these at /metrics; a worker serves them on WORKER_METRICS_PORT (see
config/worker_metrics.py and docs/adr/0002-worker-metrics.md).
"""

from __future__ import annotations

import logging
import os
import time

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
FAILURES = Counter(
    "provisioning_failures_total",
    "Requests that ended without a token (or failed), by state and failure code",
    ["to_state", "code"],
)

# Machine label per model; a model not listed is labelled with its model name.
_MACHINES = {
    "provisioning.ProvisioningRequest": "provisioning_request",
    "tokens.Token": "token",
    "notifications.Notification": "notification",
}
# Ends of a request that are not a token; their transitions' reason is the failure code
# the runbook lists (a stable snake_case string, so the label set stays small).
_FAILURE_STATES = {"failed", "declined", "ineligible", "expired", "cancelled"}


@receiver(post_transition, dispatch_uid="config.metrics.count_transition")
def count_transition(sender, instance, name, source, target, method_kwargs=None, **_kwargs):
    """Count a transition once it has committed: a rolled-back move never happened."""
    machine = _MACHINES.get(sender._meta.label, sender._meta.model_name)
    trigger = str((method_kwargs or {}).get("by") or "")
    code = None
    if machine == "provisioning_request" and target in _FAILURE_STATES:
        code = str((method_kwargs or {}).get("reason") or getattr(instance, "failure_code", ""))

    def record():
        TRANSITIONS.labels(machine, str(source), str(target), trigger).inc()
        if code is not None:
            FAILURES.labels(str(target), code[:64]).inc()

    transaction.on_commit(record)


# --- Celery tasks ---------------------------------------------------------------------
# prerun and postrun run in the same (child) process, so a process-local dict of start
# times keyed by task id is enough.
_task_started: dict[str, float] = {}


@celery_signals.task_prerun.connect(dispatch_uid="config.metrics.task_prerun")
def _task_prerun(task_id=None, **_kwargs):
    _task_started[task_id] = time.perf_counter()


@celery_signals.task_postrun.connect(dispatch_uid="config.metrics.task_postrun")
def _task_postrun(task_id=None, task=None, state=None, **_kwargs):
    started = _task_started.pop(task_id, None)
    if started is None or task is None:
        return
    TASK_SECONDS.labels(task.name, str(state or "unknown").lower()).observe(
        time.perf_counter() - started)


@celery_signals.task_retry.connect(dispatch_uid="config.metrics.task_retry")
def _task_retry(sender=None, **_kwargs):
    TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()


@celery_signals.task_failure.connect(dispatch_uid="config.metrics.task_failure")
def _task_failure(sender=None, exception=None, **_kwargs):
    TASK_FAILURES.labels(getattr(sender, "name", "unknown"), type(exception).__name__).inc()


# --- gauges read from the database at scrape time ---------------------------------------

class DatabaseStateCollector:
    """Requests per open state, overdue ("stuck") requests per state and the age of the
    oldest, the token-service circuit, unsent notifications and unknown webhook objects.

    Only open states are counted: their rows are few and the queries use the
    (state, state_changed_at) and partial due_at indexes, so a scrape costs the same on
    a table of millions. Terminal outcomes are rates of transitions_total instead.
    A failing query drops its own family and sets metrics_collector_errors, never the
    whole scrape.
    """

    OPEN_STATES = ("received", "eligible", "token_requested", "step_up_required", "failed")
    DUE_STATES = ("received", "eligible", "token_requested", "step_up_required")

    def describe(self):
        # Names only: registering must not touch the database.
        return [
            GaugeMetricFamily("provisioning_requests", "Requests per open state", labels=["state"]),
            GaugeMetricFamily("provisioning_stuck_requests",
                              "Requests past their due time (due_at < now)", labels=["state"]),
            GaugeMetricFamily("provisioning_oldest_stuck_seconds",
                              "How long the most overdue request is past due", labels=["state"]),
            GaugeMetricFamily("token_service_circuit_open",
                              "1 while the token-service circuit breaker is open"),
            GaugeMetricFamily("notifications_unsent", "Notifications not sent yet",
                              labels=["status"]),
            GaugeMetricFamily("notifications_oldest_unsent_seconds",
                              "Age of the oldest unsent notification"),
            GaugeMetricFamily("token_webhook_unknown_objects",
                              "Webhook events in the last 24 h naming an object we do not know"),
            GaugeMetricFamily("metrics_collector_errors",
                              "1 when a database gauge could not be read on this scrape",
                              labels=["family"]),
        ]

    def collect(self):
        from django.db import close_old_connections, connection

        # This may run in a thread of its own (the worker's metrics server), where no
        # request cycle recycles a broken or aged connection. Never inside a transaction
        # someone else opened (a test's): closing would end it.
        if not connection.in_atomic_block:
            close_old_connections()
        errors = GaugeMetricFamily("metrics_collector_errors",
                                   "1 when a database gauge could not be read on this scrape",
                                   labels=["family"])
        for name, reader in (("provisioning", self._provisioning),
                             ("circuit", self._circuit),
                             ("notifications", self._notifications),
                             ("webhooks", self._webhooks)):
            try:
                with transaction.atomic():  # a savepoint when called inside a transaction
                    families = list(reader())
            except Exception:  # a scrape reports the failure, it must not fail itself
                logger.warning("metrics collector could not read %s", name, exc_info=True)
                errors.add_metric([name], 1)
                continue
            errors.add_metric([name], 0)
            yield from families
        yield errors

    def _provisioning(self):
        from django.db.models import Count, Min
        from django.utils import timezone

        from provisioning.models import ProvisioningRequest

        now = timezone.now()
        per_state = dict.fromkeys(self.OPEN_STATES, 0)
        per_state.update(
            ProvisioningRequest.objects.filter(state__in=self.OPEN_STATES)
            .values_list("state").annotate(n=Count("pk")).order_by()
        )
        requests = GaugeMetricFamily("provisioning_requests", "Requests per open state",
                                     labels=["state"])
        for state, count in per_state.items():
            requests.add_metric([state], count)
        yield requests

        stuck = GaugeMetricFamily("provisioning_stuck_requests",
                                  "Requests past their due time (due_at < now)", labels=["state"])
        oldest = GaugeMetricFamily("provisioning_oldest_stuck_seconds",
                                   "How long the most overdue request is past due",
                                   labels=["state"])
        rows = {state: (count, first) for state, count, first in
                ProvisioningRequest.objects.filter(due_at__isnull=False, due_at__lt=now,
                                                   state__in=self.DUE_STATES)
                .values_list("state").annotate(n=Count("pk"), first=Min("due_at")).order_by()}
        for state in self.DUE_STATES:
            count, first = rows.get(state, (0, None))
            stuck.add_metric([state], count)
            oldest.add_metric([state], (now - first).total_seconds() if first else 0)
        yield stuck
        yield oldest

    def _circuit(self):
        from tokens.token_service import breaker_state

        family = GaugeMetricFamily("token_service_circuit_open",
                                   "1 while the token-service circuit breaker is open")
        family.add_metric([], 1 if breaker_state() == "open" else 0)
        yield family

    def _notifications(self):
        from django.apps import apps
        from django.db.models import Count, Min
        from django.utils import timezone

        try:
            model = apps.get_model("notifications", "Notification")
        except LookupError:
            return  # the notifications app has no outbox yet: nothing to report
        unsent = GaugeMetricFamily("notifications_unsent", "Notifications not sent yet",
                                   labels=["status"])
        rows = dict(model.objects.filter(status__in=["pending", "sending"])
                    .values_list("status").annotate(n=Count("pk")).order_by())
        for status in ("pending", "sending"):
            unsent.add_metric([status], rows.get(status, 0))
        yield unsent
        first = model.objects.filter(status__in=["pending", "sending"]).aggregate(
            first=Min("created_at"))["first"]
        age = GaugeMetricFamily("notifications_oldest_unsent_seconds",
                                "Age of the oldest unsent notification")
        age.add_metric([], (timezone.now() - first).total_seconds() if first else 0)
        yield age

    def _webhooks(self):
        from datetime import timedelta

        from django.utils import timezone

        from tokens.models import WebhookEvent

        count = WebhookEvent.objects.filter(
            outcome=WebhookEvent.Outcome.UNKNOWN_OBJECT,
            received_at__gte=timezone.now() - timedelta(hours=24),
        ).count()
        family = GaugeMetricFamily(
            "token_webhook_unknown_objects",
            "Webhook events in the last 24 h naming an object we do not know")
        family.add_metric([], count)
        yield family


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
