"""Sentry for web and workers, only when SENTRY_DSN is set, with the PAN-masking applied
to every string of every event (messages, exceptions, request data, breadcrumbs, extra).

Defence in depth: no default PII (no user, cookies, auth headers, client addresses), no
local variables (a frame may hold card data in memory), no request bodies; and whatever
still reaches an event goes through core.observability.redaction before it leaves the process.
"""

from __future__ import annotations

from typing import Any

from core.observability.redaction import redact


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return redact(event)


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None):
    return redact(crumb)


def init(dsn: str, *, environment: str, release: str, transport=None,
         request_bodies: str = "never") -> None:
    """`transport` and `request_bodies` exist for tests, which capture events in memory and
    let bodies in to prove before_send masks them; production keeps bodies out."""
    import warnings

    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    # sentry-sdk 2.x deprecates send_default_pii for data_collection, but passing
    # data_collection switches off its own EventScrubber; the explicit False is kept.
    warnings.filterwarnings("ignore", message="The send_default_pii option is deprecated",
                            category=DeprecationWarning)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        include_local_variables=False,  # a frame's locals may hold card data in memory
        max_request_body_size=request_bodies,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.0,
        transport=transport,
    )
