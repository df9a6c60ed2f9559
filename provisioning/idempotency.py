"""Stripe-style idempotency keys for creating provisioning requests.

Same key and same body replays the first response; same key and another body is 422;
the same key while the first request is still being handled is 409 (also when two
arrive at once: the unique constraint lets exactly one insert win). Keys are per
customer and kept IDEMPOTENCY_KEY_TTL (at least 24 hours).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.idempotency import (  # noqa: F401 - part of this module's interface
    MAX_KEY_LENGTH,
    IdempotencyKeyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    Replay,
    fingerprint,
    validate_key,
)

from .models import IdempotencyKey

def begin(customer_id: str, key: str, request_fingerprint: str) -> IdempotencyKey | Replay:
    """Claim the key, or return the stored response to replay."""
    expired_before = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    try:
        with transaction.atomic():
            # An expired key may be used afresh.
            IdempotencyKey.objects.filter(
                customer_id=customer_id, key=key, created_at__lt=expired_before
            ).delete()
            return IdempotencyKey.objects.create(
                customer_id=customer_id, key=key, request_fingerprint=request_fingerprint
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(customer_id=customer_id, key=key).first()
    if existing is None:  # the holder gave up (its request crashed) in between: try again
        return begin(customer_id, key, request_fingerprint)
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    if existing.status == IdempotencyKey.Status.IN_FLIGHT:
        raise IdempotencyKeyInFlight()
    return Replay(status=existing.response_status, body=existing.response_body)


def complete(record: IdempotencyKey, status: int, body: dict, provisioning_request=None) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED, response_status=status, response_body=body,
        provisioning_request=provisioning_request,
    )


def abandon(record: IdempotencyKey) -> None:
    """The request failed before producing a response: free the key for a retry."""
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
