"""What both flows' idempotency keys share (Stripe's rules): the header's validation, the
request fingerprint, the coded errors and the stored answer a repeat replays. Each flow
keeps its own key table and its claim/complete logic beside its model."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from core.errors import ApplicationError
from core.validators import IDEMPOTENCY_KEY_PATTERN, refuse_card_number_in_header

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
