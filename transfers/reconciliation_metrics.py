"""Reconciliation's metrics: new mismatches counted when they commit, and read from the
database at scrape time, open mismatches by kind and the recent report days whose
latest run failed (the report or the ledger could not be read)."""

from __future__ import annotations

from django.db import transaction
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges, register_database_gauges

NEW_MISMATCHES = Counter(
    "transfers_reconciliation_mismatches_total",
    "Mismatches reconciliation found for the first time, by kind", ["kind"])


def count_new_mismatch(kind: str) -> None:
    transaction.on_commit(lambda: NEW_MISMATCHES.labels(str(kind)).inc())


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily("transfers_reconciliation_open_mismatches",
                          "Reconciliation mismatches nobody has resolved, by kind",
                          labels=["kind"]),
        GaugeMetricFamily("transfers_reconciliation_days_failing",
                          "Recent report days whose latest reconciliation run failed"),
    )


def read_gauges():
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from .models import MismatchKind, ReconciliationMismatch, ReconciliationRun

    open_family, failing_family = _families()
    per_kind = dict.fromkeys(MismatchKind.values, 0)
    per_kind.update(ReconciliationMismatch.objects.filter(state="open")
                    .values_list("kind").annotate(n=Count("pk")).order_by())
    for kind, count in per_kind.items():
        open_family.add_metric([kind], count)
    since = timezone.now().date() - timedelta(days=settings.TRANSFER_RECONCILE_RECHECK_DAYS + 1)
    latest: dict = {}
    # Newest first: the first row per day is its latest run (a few rows per day).
    for day, status in (ReconciliationRun.objects.filter(report_date__gte=since)
                        .exclude(status=ReconciliationRun.Status.RUNNING)
                        .order_by("-started_at", "-id").values_list("report_date", "status")):
        latest.setdefault(day, status)
    failing_family.add_metric([], sum(1 for status in latest.values()
                                      if status == ReconciliationRun.Status.FAILED))
    return [open_family, failing_family]


register_database_gauges(DatabaseGauges("reconciliation", lambda: list(_families()),
                                        read_gauges))
