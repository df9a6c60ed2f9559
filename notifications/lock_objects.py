"""Row locks for notifications, in one place (Saleor's lock_objects.py habit).

Services take these inside transaction.atomic() before moving a notification, so two
dispatchers (or a dispatcher and beat's drain) never move the same row at once. The
dispatcher's claim is the exception: one statement that locks (SKIP LOCKED), moves and
returns the row, in autocommit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q

from .models import Device, Notification, Status


def notification_for_update(notification_id) -> Notification:
    return Notification.objects.select_for_update().get(pk=notification_id)


def claim_due_notification(notification_id, now: datetime, *,
                           lease: timedelta) -> Notification | None:
    """Claim the row if it is pending and due: one `UPDATE ... RETURNING` that makes the
    move of `Notification.claim` (pending → sending, one more attempt, the lease as its
    next due time) and hands back the claimed row, with the push token of the customer's
    most recent device (`device_push_token`, None without one) for the send. None when
    it is not pending or not due: someone else sends it, or has sent it.

    A row another dispatcher holds (its claim not yet committed) is skipped, not waited
    for: the row lock is taken with SKIP LOCKED inside the same statement, so of two
    dispatchers racing on one row exactly one claims it and the other does nothing.
    """
    meta, device = Notification._meta, Device._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)

    def column(name: str, opts=meta) -> str:
        return quote(opts.get_field(name).column)

    device_table = quote(device.db_table)
    # A row another dispatcher holds is skipped, not waited for (where the database
    # has row locks; SQLite, the embedded mode, serialises writers anyway).
    skip_locked = connection.features.has_select_for_update_skip_locked
    sql = (
        f"UPDATE {table} SET {column('status')} = %s, "
        f"{column('attempts')} = {column('attempts')} + 1, "
        f"{column('next_attempt_at')} = %s, {column('updated_at')} = %s "
        f"WHERE {column('id')} = %s AND {column('status')} = %s "
        f"AND {column('next_attempt_at')} <= %s "
        + (f"AND {column('id')} IN (SELECT {column('id')} FROM {table} "
           f"WHERE {column('id')} = %s FOR UPDATE SKIP LOCKED) "
           if skip_locked else "") +
        f"RETURNING *, (SELECT d.{column('push_token', device)} FROM {device_table} d "
        f"WHERE d.{column('customer_id', device)} = {table}.{column('customer_id')} "
        f"AND d.{column('push_token', device)} <> '' "
        f"ORDER BY d.{column('updated_at', device)} DESC LIMIT 1) AS device_push_token")
    at = meta.get_field("next_attempt_at")
    pk = meta.pk.get_db_prep_value(meta.pk.to_python(notification_id), connection)
    params = [Status.SENDING, at.get_db_prep_value(now + lease, connection),
              at.get_db_prep_value(now, connection), pk, Status.PENDING,
              at.get_db_prep_value(now, connection), *([pk] if skip_locked else [])]
    rows = list(Notification.objects.raw(sql, params))
    return rows[0] if rows else None


def stranded_notifications_for_update(*, pending_due_before: datetime,
                                      claim_lapsed_before: datetime,
                                      limit: int) -> list[Notification]:
    """Pending rows overdue by the drain threshold and sending rows whose claim lapsed,
    skipping rows a dispatcher holds (safe to run twice)."""
    return list(stranded_notifications(pending_due_before, claim_lapsed_before)
                .select_for_update(skip_locked=True)[:limit])


def stranded_notifications(pending_due_before: datetime, claim_lapsed_before: datetime):
    # Both branches imply the partial index's predicate (status pending or sending), so
    # the drain reads only unsent rows however large the table grows.
    return (
        Notification.objects
        .filter(Q(status=Status.PENDING, next_attempt_at__lte=pending_due_before)
                | Q(status=Status.SENDING, next_attempt_at__lte=claim_lapsed_before))
        .order_by("next_attempt_at")
    )
