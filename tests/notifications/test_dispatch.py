"""Sending one notification: claim, send, record; retries, fallback to SMS, failures with a
code, and exactly one send however often or however concurrently dispatch runs.

The gateway clients are stubbed (tests/notifications/conftest.py); everything else is real.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.outside.http import OutsideTimeout, PermanentError, TransientError
from notifications import services
from notifications.models import Channel, CustomerProfile, Device, Notification, Status
from notifications.tasks import send_notification_task
from tests.notifications.conftest import MSISDN, NotificationFactory, make_due, stored

pytestmark = pytest.mark.django_db

UNAVAILABLE = TransientError("sms_unavailable", "sms answered 503", system="sms", status=503)
PUSH_DOWN = TransientError("push_unavailable", "push answered 503", system="push", status=503)
UNREGISTERED = PermanentError("push_unregistered", "dead token", system="push", status=404)


def _device(token="fcm-token-1", customer_id="cust_demo"):
    return Device.objects.create(customer_id=customer_id, device_id="pixel-1", push_token=token,
                                 platform="android")


def test_an_sms_is_sent_once_and_marked_sent_with_the_providers_id(gateways):
    notification = NotificationFactory(channel=Channel.SMS)
    assert services.dispatch(notification.pk) is None
    row = stored(notification)
    assert (row.status, row.attempts, row.provider_message_id) == (Status.SENT, 1, "sms-1")
    assert row.sent_at is not None
    [message] = gateways.sms.sent
    assert message["to"] == MSISDN
    assert message["reference"] == str(notification.pk)
    assert message["text"] == ("Your M-Pesa Visa card ending 1111 has been added to Google Pay. "
                               "You can now pay with it from your phone.")


def test_a_push_goes_to_the_customers_most_recent_device_with_its_reference(gateways):
    Device.objects.create(customer_id="cust_demo", device_id="old", push_token="fcm-old",
                          platform="android")
    _device("fcm-new")
    notification = NotificationFactory(channel=Channel.PUSH)
    services.dispatch(notification.pk)
    [push] = gateways.push.sent
    assert push["device_token"] == "fcm-new"
    assert push["reference"] == str(notification.pk)
    assert push["title"] == "Card added to Google Pay"
    assert gateways.sms.sent == []
    assert stored(notification).status == Status.SENT


def test_a_redelivered_task_sends_nothing_more(gateways):
    notification = NotificationFactory()
    send_notification_task.apply(args=[str(notification.pk)])
    send_notification_task.apply(args=[str(notification.pk)])
    assert len(gateways.sms.sent) == 1
    assert stored(notification).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_row_another_dispatcher_has_locked_is_skipped_not_waited_for(gateways):
    notification = NotificationFactory()
    result = {}

    def other_dispatcher():
        try:
            result["retry_in"] = services.dispatch(notification.pk)
        finally:
            connection.close()

    with transaction.atomic():
        Notification.objects.select_for_update().get(pk=notification.pk)
        thread = threading.Thread(target=other_dispatcher)
        thread.start()
        thread.join(timeout=10)
        finished_while_locked = not thread.is_alive()
    assert finished_while_locked and result == {"retry_in": None}
    assert gateways.sms.sent == []
    assert Notification.objects.get(pk=notification.pk).status == Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_dispatchers_racing_on_one_row_send_it_once(gateways):
    notification = NotificationFactory()
    start = threading.Barrier(4)

    def dispatcher():
        try:
            start.wait(timeout=10)
            services.dispatch(notification.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(gateways.sms.sent) == 1
    assert Notification.objects.get(pk=notification.pk).status == Status.SENT


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_arriving_while_the_send_is_in_flight_does_nothing(gateways):
    notification = NotificationFactory()
    gateways.sms.hold = threading.Event()
    first = threading.Thread(target=lambda: (services.dispatch(notification.pk),
                                             connection.close()))
    first.start()
    try:
        deadline = timezone.now() + timedelta(seconds=10)
        while not gateways.sms.sent and timezone.now() < deadline:
            threading.Event().wait(0.01)
        assert Notification.objects.get(pk=notification.pk).status == Status.SENDING
        assert services.dispatch(notification.pk) is None
    finally:
        gateways.sms.hold.set()
        first.join(timeout=10)
    assert len(gateways.sms.sent) == 1
    assert Notification.objects.get(pk=notification.pk).status == Status.SENT


def test_a_gateway_outage_schedules_a_retry_with_backoff_and_keeps_the_code(gateways, settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 2.0
    notification = NotificationFactory()
    gateways.sms.fail_next(UNAVAILABLE)
    retry_in = services.dispatch(notification.pk)
    row = stored(notification)
    assert 1.0 <= retry_in <= 2.0
    assert (row.status, row.attempts, row.last_error) == (Status.PENDING, 1, "sms_unavailable")
    assert row.next_attempt_at > timezone.now()


def test_a_retry_is_not_sent_before_it_is_due(gateways):
    notification = NotificationFactory()
    gateways.sms.fail_next(UNAVAILABLE)
    services.dispatch(notification.pk)
    assert services.dispatch(notification.pk) is None
    assert len(gateways.sms.sent) == 1


def test_gateway_down_then_up_delivers_once_after_recovery(gateways):
    notification = NotificationFactory()
    gateways.sms.fail_next(UNAVAILABLE, OutsideTimeout("sms_timeout", system="sms"))
    services.dispatch(notification.pk)
    make_due(notification)
    services.dispatch(notification.pk)
    make_due(notification)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 3, "")
    assert len(gateways.sms.sent) == 3
    assert services.dispatch(notification.pk) is None and len(gateways.sms.sent) == 3


def test_an_sms_gateway_that_stays_down_fails_the_row_gateway_unavailable(gateways, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification = NotificationFactory()
    gateways.sms.fail_next(UNAVAILABLE, UNAVAILABLE)
    services.dispatch(notification.pk)
    make_due(notification)
    assert services.dispatch(notification.pk) is None
    row = stored(notification)
    assert (row.status, row.last_error) == (Status.FAILED, "gateway_unavailable")


def test_a_refused_sms_fails_at_once_with_the_gateways_code(gateways):
    notification = NotificationFactory()
    gateways.sms.fail_next(PermanentError("sms_invalid_msisdn", system="sms", status=400))
    assert services.dispatch(notification.pk) is None
    row = stored(notification)
    assert (row.status, row.attempts, row.last_error) == (Status.FAILED, 1, "sms_invalid_msisdn")


def test_a_customer_without_a_push_token_gets_an_sms_instead(gateways):
    notification = NotificationFactory(channel=Channel.PUSH)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.channel, row.fallback_reason) == (Status.SENT, Channel.SMS,
                                                              "no_push_token")
    assert gateways.push.sent == [] and len(gateways.sms.sent) == 1
    assert gateways.sms.sent[0]["reference"] == str(notification.pk)


def test_a_dead_push_token_falls_back_to_sms_and_is_forgotten(gateways):
    _device("dead-token")
    notification = NotificationFactory(channel=Channel.PUSH)
    gateways.push.fail_next(UNREGISTERED)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.channel, row.fallback_reason) == (Status.SENT, Channel.SMS,
                                                              "push_unregistered")
    assert len(gateways.sms.sent) == 1
    assert not Device.objects.filter(push_token="dead-token").exists()


def test_a_push_gateway_that_stays_down_falls_back_to_sms(gateways, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    _device()
    notification = NotificationFactory(channel=Channel.PUSH)
    gateways.push.fail_next(PUSH_DOWN, PUSH_DOWN)
    services.dispatch(notification.pk)
    make_due(notification)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.channel, row.fallback_reason) == (Status.SENT, Channel.SMS,
                                                              "gateway_unavailable")
    assert len(gateways.push.sent) == 2 and len(gateways.sms.sent) == 1


def test_no_push_token_and_no_number_fails_the_row_no_contact(gateways):
    notification = NotificationFactory(channel=Channel.PUSH, msisdn="")
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.last_error, row.fallback_reason) == (Status.FAILED, "no_contact",
                                                                 "no_push_token")
    assert gateways.sms.sent == []


def test_a_number_added_to_the_profile_after_the_event_is_used(gateways):
    notification = NotificationFactory(msisdn="")
    CustomerProfile.objects.create(customer_id="cust_demo", msisdn="+254700000999")
    services.dispatch(notification.pk)
    assert gateways.sms.sent[0]["to"] == "+254700000999"


def test_a_message_that_cannot_be_rendered_fails_without_a_send(gateways):
    notification = NotificationFactory(template_key="no_such_template")
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.last_error) == (Status.FAILED, "render_failed")
    assert gateways.sms.sent == []


def test_an_outcome_recorded_after_its_claim_lapsed_leaves_the_newer_claim_alone(gateways):
    notification = NotificationFactory()

    def lapse_and_send_again():
        # The first send hangs past its lease: beat reclaims the row, another dispatcher
        # sends it (the at-least-once window), then the first send returns.
        Notification.objects.filter(pk=notification.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1))
        services.drain_outbox()
        services.dispatch(notification.pk)

    gateways.sms.on_first_send = lapse_and_send_again
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.attempts, row.provider_message_id) == (Status.SENT, 2, "sms-2")
