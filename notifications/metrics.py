"""Notifications' gauges read at scrape time: the outbox's unsent rows and the oldest one's
age (send outcomes are counted where they happen: notifications_total in services.py)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges, register_database_gauges

UNSENT = ("pending", "sending")


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (GaugeMetricFamily("notifications_unsent", "Notifications not sent yet",
                              labels=["status"]),
            GaugeMetricFamily("notifications_oldest_unsent_seconds",
                              "Age of the oldest unsent notification"))


def read_gauges():
    from django.db.models import Count, Min
    from django.utils import timezone

    from .models import Notification

    unsent, age = _families()
    rows = dict(Notification.objects.filter(status__in=UNSENT)
                .values_list("status").annotate(n=Count("pk")).order_by())
    for status in UNSENT:
        unsent.add_metric([status], rows.get(status, 0))
    first = Notification.objects.filter(status__in=UNSENT).aggregate(
        first=Min("created_at"))["first"]
    age.add_metric([], (timezone.now() - first).total_seconds() if first else 0)
    return [unsent, age]


register_database_gauges(DatabaseGauges("notifications", lambda: list(_families()), read_gauges))
