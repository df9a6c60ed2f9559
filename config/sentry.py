"""Sentry for web and workers, only when SENTRY_DSN is set, with the PAN-masking applied
to every string of every event (request bodies, breadcrumbs, local variables)."""

from __future__ import annotations

from typing import Any

from config.redaction import redact


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return redact(event)


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None):
    return redact(crumb)


def init(dsn: str, *, environment: str, release: str, transport=None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        include_local_variables=False,  # a frame's locals may hold card data in memory
        max_request_body_size="never",
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.0,
        transport=transport,
    )
