"""Stripe-style idempotency keys for POST /transfers, per customer (the same rules as the
provisioning flow's: same key and body replays the first response, another body is 422,
a key still in flight is 409; kept IDEMPOTENCY_KEY_TTL).

Its own table, not provisioning's: the flows are independent (docs/transfers.md says why
it is not yet one core table).
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
    """The key's record, new and in flight, or the replay of the first response. An expired
    record of the same key is removed only when it is in the way (the insert is the one
    statement of the usual case)."""
    expired_before = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(customer_id=customer_id, key=key,
                                                     request_fingerprint=request_fingerprint)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(customer_id=customer_id, key=key).first()
        if existing is None:  # the holder gave up in between: try again
            continue
        if existing.created_at < expired_before:  # kept past its TTL: the key is free
            IdempotencyKey.objects.filter(pk=existing.pk, created_at__lt=expired_before).delete()
            continue
        if existing.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused()
        if existing.status == IdempotencyKey.Status.IN_FLIGHT:
            raise IdempotencyKeyInFlight()
        return Replay(status=existing.response_status, body=existing.response_body)
    raise IdempotencyKeyInFlight()


def complete(record: IdempotencyKey, status: int, body: dict, transfer=None) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED, response_status=status, response_body=body,
        transfer=transfer)


def abandon(record: IdempotencyKey) -> None:
    """The request failed before producing a response: free the key for a retry."""
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
