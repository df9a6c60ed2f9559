"""Stripe-style idempotency keys for creating provisioning requests.

Same key and same body replays the first response; same key and another body is 422;
the same key while the first request is still being handled is 409 (also when two
arrive at once: the unique constraint lets exactly one insert win). Keys are per
customer and kept IDEMPOTENCY_KEY_TTL (at least 24 hours).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
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
    now = timezone.now()
    claimed = _claim(customer_id, key, request_fingerprint, now,
                     expired_before=now - settings.IDEMPOTENCY_KEY_TTL)
    if claimed is not None:
        return claimed
    existing = IdempotencyKey.objects.filter(customer_id=customer_id, key=key).first()
    if existing is None:  # the holder gave up (its request crashed) in between: try again
        return begin(customer_id, key, request_fingerprint)
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    if existing.status == IdempotencyKey.Status.IN_FLIGHT:
        raise IdempotencyKeyInFlight()
    return Replay(status=existing.response_status, body=existing.response_body)


def _claim(customer_id: str, key: str, request_fingerprint: str, now, *,
           expired_before) -> IdempotencyKey | None:
    """One statement: insert the key, or take over the customer's expired row of the
    same key (a key may be used afresh after its TTL); None when a live row holds it.

    `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` (PostgreSQL, and SQLite
    since 3.35): two requests with the same new key serialise on the unique index and
    exactly one gets a row back.
    """
    meta = IdempotencyKey._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    column = {name: quote(meta.get_field(name).column) for name in (
        "customer_id", "key", "request_fingerprint", "status", "response_status",
        "response_body", "provisioning_request", "created_at")}
    created_at = meta.get_field("created_at")
    sql = (
        f"INSERT INTO {table} ({column['customer_id']}, {column['key']}, "
        f"{column['request_fingerprint']}, {column['status']}, {column['created_at']}) "
        f"VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({column['customer_id']}, {column['key']}) DO UPDATE SET "
        f"{column['request_fingerprint']} = EXCLUDED.{column['request_fingerprint']}, "
        f"{column['status']} = EXCLUDED.{column['status']}, "
        f"{column['response_status']} = NULL, {column['response_body']} = NULL, "
        f"{column['provisioning_request']} = NULL, "
        f"{column['created_at']} = EXCLUDED.{column['created_at']} "
        f"WHERE {table}.{column['created_at']} < %s "
        f"RETURNING {quote(meta.pk.column)}")
    status = IdempotencyKey.Status.IN_FLIGHT
    params = [customer_id, key, request_fingerprint, status,
              created_at.get_db_prep_value(now, connection),
              created_at.get_db_prep_value(expired_before, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    record = IdempotencyKey(pk=row[0], customer_id=customer_id, key=key,
                            request_fingerprint=request_fingerprint, status=status,
                            created_at=now)
    record._state.adding = False
    record._state.db = connection.alias
    return record


def complete(record: IdempotencyKey, status: int, body: dict, provisioning_request=None) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED, response_status=status, response_body=body,
        provisioning_request=provisioning_request,
    )


def abandon(record: IdempotencyKey) -> None:
    """The request failed before producing a response: free the key for a retry."""
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
