"""Tokens' gauges read at scrape time: the token-service circuit breaker, and webhook
events that named an object we do not know."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges, register_database_gauges


def _circuit_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("token_service_circuit_open",
                             "1 while the token-service circuit breaker is open")


def _webhook_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("token_webhook_unknown_objects",
                             "Webhook events in the last 24 h naming an object we do not know")


def read_circuit():
    from .token_service import breaker_state

    family = _circuit_family()
    family.add_metric([], 1 if breaker_state() == "open" else 0)
    return [family]


def read_webhooks():
    from datetime import timedelta

    from django.utils import timezone

    from .models import WebhookEvent

    count = WebhookEvent.objects.filter(
        outcome=WebhookEvent.Outcome.UNKNOWN_OBJECT,
        received_at__gte=timezone.now() - timedelta(hours=24),
    ).count()
    family = _webhook_family()
    family.add_metric([], count)
    return [family]


register_database_gauges(DatabaseGauges("circuit", lambda: [_circuit_family()], read_circuit))
register_database_gauges(DatabaseGauges("webhooks", lambda: [_webhook_family()], read_webhooks))
