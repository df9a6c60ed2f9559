"""Stripe-style idempotency keys for POST /transfers, per customer (the same rules as the
provisioning flow's: same key and body replays the first response, another body is 422,
a key still in flight is 409; kept IDEMPOTENCY_KEY_TTL).

Its own table, not provisioning's: the flows are independent (docs/transfers.md says why
it is not yet one core table).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.validators import IDEMPOTENCY_KEY_PATTERN, refuse_card_number_in_header

from .models import IdempotencyKey

MAX_KEY_LENGTH = 255


class IdempotencyKeyMissing(ApplicationError):
    code = "idempotency_key_required"
    status_code = 400
    message = "The Idempotency-Key header is required."


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status_code = 422
    message = "This Idempotency-Key was used with a different request body."


class IdempotencyKeyInFlight(ApplicationError):
    code = "idempotency_key_in_flight"
    status_code = 409
    message = "A request with this Idempotency-Key is still being processed."


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def fingerprint(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(raw: str | None) -> str:
    if not raw:
        raise IdempotencyKeyMissing()
    key = raw.strip()
    # A card number is named as such whatever else is wrong with the key: the key is stored.
    refuse_card_number_in_header("Idempotency-Key", key)
    if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise ApplicationError("Idempotency-Key must be 1 to 255 printable ASCII characters.",
                               code="idempotency_key_invalid")
    return key


def begin(customer_id: str, key: str, request_fingerprint: str) -> IdempotencyKey | Replay:
    expired_before = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    for _ in range(3):
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(customer_id=customer_id, key=key,
                                              created_at__lt=expired_before).delete()
                return IdempotencyKey.objects.create(customer_id=customer_id, key=key,
                                                     request_fingerprint=request_fingerprint)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(customer_id=customer_id, key=key).first()
        if existing is None:  # the holder gave up in between: try again
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
