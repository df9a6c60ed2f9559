"""Row locks for notifications, in one place (Saleor's lock_objects.py habit).

Services take these inside transaction.atomic() before moving a notification, so two
dispatchers (or a dispatcher and beat's drain) never move the same row at once.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from .models import Notification, Status


def notification_for_update(notification_id) -> Notification:
    return Notification.objects.select_for_update().get(pk=notification_id)


def due_notification_for_update(notification_id, now: datetime) -> Notification | None:
    """The row if it is pending and due and nobody holds it; else None (someone else sends)."""
    return (
        Notification.objects.select_for_update(skip_locked=True)
        .filter(pk=notification_id, status=Status.PENDING, next_attempt_at__lte=now)
        .first()
    )


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
