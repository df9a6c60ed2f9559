"""The bench empties the service's tables between phases in one TRUNCATE: the outbox's
de-duplication keys go with the outbox, by its trigger, without the trigger failing."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from bench.common import truncate_app_tables
from notifications.models import Notification


@pytest.mark.django_db(transaction=True)
def test_the_outbox_and_its_keys_are_emptied_together():
    Notification.objects.create(customer_id="cust_t", object_id=uuid.uuid4(), event="provisioned",
                                channel="push", template_key="provisioned")
    db = connection.settings_dict
    truncate_app_tables(f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM notifications_notification),"
                       " (SELECT count(*) FROM notifications_notification_key)")
        assert cursor.fetchone() == (0, 0)
