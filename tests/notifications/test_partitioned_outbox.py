"""The outbox, partitioned by month (docs/adr/0014-partitioned-log-and-outbox.md): one row
per (object_id, event) whatever months the twins fall in, archiving that never drops an
unsent row, and the de-duplication keys that go with a dropped month. PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from core import partitions, statements
from notifications import services
from notifications.models import Notification, Status
from tests.notifications.conftest import NotificationFactory, enqueued_dispatches

pytestmark = pytest.mark.django_db

OUTBOX = "notifications_notification"


def _table():
    return partitions.table_named(OUTBOX)


def _this_month():
    return partitions.month_start(timezone.now())


def _written_at(moment, **fields) -> Notification:
    """An outbox row whose created_at is `moment` (auto_now_add stamps Django's now)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return NotificationFactory(**fields)


def _partition_of(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {OUTBOX} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _keys(object_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM notifications_notification_key "
                       "WHERE object_id = %s", [object_id])
        return cursor.fetchone()[0]


def _exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def _old_month(months_back: int = 5):
    month = partitions.add_months(_this_month(), -months_back)
    if month not in {partition.start for partition in partitions.partitions(_table())}:
        partitions.create_month(_table(), month)
    return month, _table().partition_name(month)


def test_a_row_lands_in_its_months_partition():
    row = NotificationFactory()
    assert _partition_of(row.pk) == _table().partition_name(_this_month())


def test_a_twin_in_the_next_month_is_the_same_notification(django_capture_on_commit_callbacks):
    # The first was queued in the last second of the previous month.
    _, previous = _old_month(1)
    first = _written_at(_this_month() - timedelta(seconds=1), event="provisioned:1")
    assert _partition_of(first.pk) == previous
    with django_capture_on_commit_callbacks() as callbacks:
        twin = services.queue_event_notification(
            customer_id=first.customer_id, object_id=first.object_id, event="provisioned:1",
            template_key=first.template_key, context={})
    assert twin.pk == first.pk
    assert Notification.objects.filter(object_id=first.object_id).count() == 1
    assert enqueued_dispatches(callbacks) == []


def test_the_database_drops_a_twin_in_another_month_without_failing_the_transaction():
    first = _written_at(timezone.now() - timedelta(days=40), event="declined:1")
    with transaction.atomic():
        twin = NotificationFactory.build(object_id=first.object_id, event="declined:1")
        assert statements.insert_unless_dropped(twin) is False  # dropped, not an error
        # The transaction is still usable: a twin no longer aborts the caller's move.
        assert Notification.objects.filter(object_id=first.object_id).count() == 1
        other = NotificationFactory.build(object_id=first.object_id, event="declined:2")
        assert statements.insert_unless_dropped(other) is True
    assert _keys(first.object_id) == 2


def test_the_key_table_still_refuses_a_second_key():
    first = _written_at(timezone.now() - timedelta(days=40), event="declined:2")
    with pytest.raises(IntegrityError, match="notification_dedup_uniq"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO notifications_notification_key (object_id, event) "
                           "VALUES (%s, %s)", [first.object_id, "declined:2"])


def test_a_rows_key_and_month_never_change():
    row = NotificationFactory()
    for change in ({"event": "other"}, {"object_id": uuid.uuid4()},
                   {"created_at": timezone.now() - timedelta(days=60)}):
        with pytest.raises(DatabaseError, match="never change"), transaction.atomic():
            Notification.objects.filter(pk=row.pk).update(**change)


def test_a_deleted_row_releases_its_key():
    row = NotificationFactory(event="failed:1")
    Notification.objects.filter(pk=row.pk).delete()
    assert _keys(row.object_id) == 0
    again = NotificationFactory(object_id=row.object_id, event="failed:1")
    assert Notification.objects.get(object_id=row.object_id).pk == again.pk


def test_the_drain_still_finds_overdue_rows_of_an_older_month(settings):
    settings.NOTIFICATION_DRAIN_AFTER_SECONDS = 60
    month, _ = _old_month(2)
    lost = _written_at(month + timedelta(days=1), next_attempt_at=timezone.now() - timedelta(
        minutes=5))
    assert services.drain_outbox()["requeued"] == 1
    assert Notification.objects.get(pk=lost.pk).next_attempt_at > timezone.now() - timedelta(
        seconds=5)


def test_archive_drops_a_sent_month_and_its_keys(tmp_path):
    month, name = _old_month()
    sent = _written_at(month + timedelta(days=3), status=Status.SENT)
    call_command("archive_partitions", "--apply", "--to", str(tmp_path), "--table", OUTBOX)
    manifest = json.loads((tmp_path / f"{name}.manifest.json").read_text())
    assert manifest["rows"] == 1
    assert not _exists(name)
    assert _keys(sent.object_id) == 0


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENDING])
def test_archive_refuses_a_month_that_holds_an_unsent_row(tmp_path, status):
    month, name = _old_month()
    _written_at(month + timedelta(days=3), status=Status.SENT)
    unsent = _written_at(month + timedelta(days=4), status=status)
    with pytest.raises(CommandError, match="refused"):
        call_command("archive_partitions", "--apply", "--to", str(tmp_path), "--table", OUTBOX)
    assert _exists(name)
    assert Notification.objects.filter(pk=unsent.pk).exists()
    assert list(tmp_path.iterdir()) == []
