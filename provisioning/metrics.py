"""Provisioning's metrics: failures by code (counted when the move commits) and, read from
the database at scrape time, requests per open state and overdue ("stuck") requests."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver
from django_fsm.signals import post_transition
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges, register_database_gauges

FAILURES = Counter(
    "provisioning_failures_total",
    "Requests that ended without a token (or failed), by state and failure code",
    ["to_state", "code"],
)
# Ends of a request that are not a token; their transitions' reason is the failure code
# the runbook lists (a stable snake_case string, so the label set stays small).
FAILURE_STATES = {"failed", "declined", "ineligible", "expired", "cancelled"}
OPEN_STATES = ("received", "eligible", "token_requested", "step_up_required", "failed")
DUE_STATES = ("received", "eligible", "token_requested", "step_up_required")


@receiver(post_transition, dispatch_uid="provisioning.metrics.count_failure")
def count_failure(sender, instance, name, source, target, method_kwargs=None, **_kwargs):
    if sender._meta.label != "provisioning.ProvisioningRequest" or target not in FAILURE_STATES:
        return
    code = str((method_kwargs or {}).get("reason") or getattr(instance, "failure_code", ""))
    transaction.on_commit(lambda: FAILURES.labels(str(target), code[:64]).inc())


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("provisioning_requests", "Requests per open state", labels=["state"]),
        GaugeMetricFamily("provisioning_stuck_requests",
                          "Requests past their due time (due_at < now)", labels=["state"]),
        GaugeMetricFamily("provisioning_oldest_stuck_seconds",
                          "How long the most overdue request is past due", labels=["state"]),
    )


def read_gauges():
    from django.db.models import Count, Min
    from django.utils import timezone

    from .models import ProvisioningRequest

    requests, stuck, oldest = _families()
    now = timezone.now()
    per_state = dict.fromkeys(OPEN_STATES, 0)
    per_state.update(
        ProvisioningRequest.objects.filter(state__in=OPEN_STATES)
        .values_list("state").annotate(n=Count("pk")).order_by())
    for state, count in per_state.items():
        requests.add_metric([state], count)
    rows = {state: (count, first) for state, count, first in
            ProvisioningRequest.objects.filter(due_at__isnull=False, due_at__lt=now,
                                               state__in=DUE_STATES)
            .values_list("state").annotate(n=Count("pk"), first=Min("due_at")).order_by()}
    for state in DUE_STATES:
        count, first = rows.get(state, (0, None))
        stuck.add_metric([state], count)
        oldest.add_metric([state], (now - first).total_seconds() if first else 0)
    return [requests, stuck, oldest]


register_database_gauges(DatabaseGauges("provisioning", lambda: list(_families()), read_gauges))
