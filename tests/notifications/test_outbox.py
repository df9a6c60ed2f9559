"""Beat's drain of the outbox, the operations resend, and the backoff between sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import StateConflict
from notifications import services
from notifications.models import Status
from tests.notifications.conftest import NotificationFactory, enqueued_dispatches, stored

pytestmark = pytest.mark.django_db


def _ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


@pytest.fixture
def drain_after_a_minute(settings):
    """The drain takes a pending row only once it is a minute overdue."""
    settings.NOTIFICATION_DRAIN_AFTER_SECONDS = 60


def test_a_pending_row_whose_message_was_lost_is_enqueued_again(
        drain_after_a_minute, django_capture_on_commit_callbacks):
    lost = NotificationFactory(next_attempt_at=_ago(61))
    with django_capture_on_commit_callbacks() as callbacks:
        counts = services.drain_outbox()
    assert counts == {"requeued": 1, "reclaimed": 0, "failed": 0}
    assert enqueued_dispatches(callbacks) == [(str(lost.pk),)]
    assert stored(lost).next_attempt_at > _ago(5)


def test_a_row_due_only_moments_ago_is_left_to_its_own_task(
        drain_after_a_minute, django_capture_on_commit_callbacks):
    NotificationFactory(next_attempt_at=_ago(10))
    with django_capture_on_commit_callbacks() as callbacks:
        services.drain_outbox()
    assert enqueued_dispatches(callbacks) == []


def test_a_drained_row_is_not_enqueued_again_by_the_next_sweep(
        drain_after_a_minute, django_capture_on_commit_callbacks):
    NotificationFactory(next_attempt_at=_ago(61))
    with django_capture_on_commit_callbacks() as callbacks:
        services.drain_outbox()
        services.drain_outbox()
    assert len(enqueued_dispatches(callbacks)) == 1


def test_a_row_left_sending_by_a_dead_dispatcher_is_sent_again_after_its_lease(
        gateways, django_capture_on_commit_callbacks):
    stranded = NotificationFactory(status=Status.SENDING, attempts=1, next_attempt_at=_ago(1))
    with django_capture_on_commit_callbacks() as callbacks:
        counts = services.drain_outbox()
    assert counts["reclaimed"] == 1
    assert enqueued_dispatches(callbacks) == [(str(stranded.pk),)]
    row = stored(stranded)
    assert (row.status, row.last_error) == (Status.PENDING, "dispatch_interrupted")
    services.dispatch(stranded.pk)
    assert stored(stranded).status == Status.SENT and len(gateways.sms.sent) == 1


def test_a_row_still_within_its_sending_lease_is_left_alone():
    in_flight = NotificationFactory(status=Status.SENDING, attempts=1,
                                    next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert services.drain_outbox() == {"requeued": 0, "reclaimed": 0, "failed": 0}
    assert stored(in_flight).status == Status.SENDING


def test_a_row_that_keeps_killing_its_dispatcher_fails_when_attempts_are_spent(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    poison = NotificationFactory(status=Status.SENDING, attempts=3, next_attempt_at=_ago(1))
    assert services.drain_outbox()["failed"] == 1
    row = stored(poison)
    assert (row.status, row.last_error) == (Status.FAILED, "dispatch_interrupted")


def test_sent_and_failed_rows_are_never_drained():
    NotificationFactory(status=Status.SENT, next_attempt_at=_ago(3600))
    NotificationFactory(status=Status.FAILED, next_attempt_at=_ago(3600))
    assert services.drain_outbox() == {"requeued": 0, "reclaimed": 0, "failed": 0}


def test_operations_resend_a_failed_row_at_once(admin_user, gateways,
                                                django_capture_on_commit_callbacks):
    failed = NotificationFactory(status=Status.FAILED, attempts=10,
                                 last_error="gateway_unavailable")
    with django_capture_on_commit_callbacks() as callbacks:
        services.resend_notification(failed.pk, actor=admin_user)
    assert enqueued_dispatches(callbacks) == [(str(failed.pk),)]
    row = stored(failed)
    assert (row.status, row.attempts, row.last_error) == (Status.PENDING, 0, "")
    services.dispatch(failed.pk)
    assert stored(failed).status == Status.SENT


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENDING, Status.SENT])
def test_only_a_failed_row_can_be_resent(admin_user, status):
    notification = NotificationFactory(status=status)
    with pytest.raises(StateConflict) as refused:
        services.resend_notification(notification.pk, actor=admin_user)
    assert refused.value.code == "resend_not_allowed"
    assert stored(notification).status == status


def test_retry_delay_grows_with_attempts_and_stays_under_the_cap(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 1.0
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 8.0
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [services.retry_delay(attempts) for _ in range(200)]
        assert all(0.5 <= delay <= ceiling for delay in delays)
    assert max(services.retry_delay(4) for _ in range(200)) > 4.0


def test_the_drain_reads_unsent_rows_through_their_partial_index():
    from django.db import connection

    from notifications import lock_objects

    NotificationFactory.create_batch(3, status=Status.SENT)
    with connection.cursor() as cursor:
        # A tiny table would be scanned anyway; ask whether the index can serve the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = lock_objects.stranded_notifications(_ago(60), timezone.now()).explain()
        # Partitioned by month (ADR 0014): each partition's copy of notification_due_idx.
        cursor.execute("SELECT array_agg(indexrelid::regclass::text) FROM pg_inherits i "
                       "JOIN pg_index x ON x.indexrelid = i.inhrelid "
                       "WHERE i.inhparent = 'notification_due_idx'::regclass")
        partition_indexes = cursor.fetchone()[0]
    assert any(name in plan for name in partition_indexes), plan
    assert "Seq Scan" not in plan, plan
