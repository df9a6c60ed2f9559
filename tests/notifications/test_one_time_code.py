"""The step-up code's SMS: queued in the request's transaction, the code only ever sealed,
sent by SMS whatever the customer prefers, and erased once the row is final."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.outside.http import PermanentError, TransientError
from notifications import services
from notifications.models import Channel, CustomerProfile, Device, Notification, Status
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory
from tests.notifications.conftest import MSISDN, enqueued_dispatches, stored

pytestmark = pytest.mark.django_db

CODE = "482913"


@pytest.fixture
def step_up_request():
    return ProvisioningRequestFactory(state=State.STEP_UP_REQUIRED, customer_id="cust_demo",
                                      customer_msisdn=MSISDN, card_last4="0010")


def _every_stored_value(notification) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM notifications_notification WHERE id = %s",
                       [notification.pk])
        return json.dumps(cursor.fetchone(), default=str)


def test_the_code_is_stored_only_sealed_for_its_row(step_up_request):
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    assert CODE not in _every_stored_value(notification)
    row = stored(notification)
    assert row.secret_context == {"code": CODE}
    raw = Notification.objects.filter(pk=row.pk).values_list("secret_context", flat=True).get()
    assert CODE not in raw and raw.startswith("v1.")
    assert (row.event, row.channel, row.template_key) == ("otp:1", Channel.SMS, "step_up_code")


def test_the_code_goes_by_sms_even_to_a_customer_who_prefers_push(step_up_request, gateways):
    CustomerProfile.objects.create(customer_id="cust_demo", preferred_channel="push")
    Device.objects.create(customer_id="cust_demo", device_id="d", push_token="fcm-1",
                          platform="android")
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    assert gateways.push.sent == []
    [sms] = gateways.sms.sent
    assert sms["text"] == (f"{CODE} is your code to add your M-Pesa Visa card ending 0010 to "
                           "Google Pay. It expires in 10 minutes. Never share this code with "
                           "anyone.")


def test_the_sms_states_the_configured_lifetime_of_the_code(step_up_request, gateways,
                                                            settings):
    settings.OTP_TTL_SECONDS = 300
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    assert "expires in 5 minutes" in gateways.sms.sent[0]["text"]


def test_the_code_reads_in_swahili_for_a_swahili_customer(step_up_request, gateways):
    CustomerProfile.objects.create(customer_id="cust_demo", locale="sw")
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    assert gateways.sms.sent[0]["text"].startswith(
        f"{CODE} ni nambari yako ya kuthibitisha kuongeza kadi yako ya M-Pesa Visa inayoishia "
        "0010 kwenye Google Pay.")


def test_the_sealed_code_is_erased_once_sent(step_up_request, gateways):
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.secret_context) == (Status.SENT, None)


def test_the_sealed_code_is_erased_when_the_sms_fails_for_good(step_up_request, gateways):
    gateways.sms.fail_next(PermanentError("sms_invalid_msisdn", system="sms", status=400))
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    row = stored(notification)
    assert (row.status, row.secret_context) == (Status.FAILED, None)


def test_the_code_never_reaches_a_log_line(step_up_request, gateways, caplog):
    caplog.set_level(logging.DEBUG)
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    gateways.sms.fail_next(PermanentError("sms_invalid_msisdn", system="sms", status=400))
    services.dispatch(notification.pk)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records and CODE not in logged


def test_each_code_sequence_is_its_own_message_and_a_repeat_is_not(
        step_up_request, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
        again = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
        second = services.queue_one_time_code(request=step_up_request, code="111222", sequence=2)
    assert again.pk == first.pk and second.pk != first.pk
    assert Notification.objects.filter(object_id=step_up_request.pk).count() == 2
    assert len(enqueued_dispatches(callbacks)) == 2


def test_a_failed_code_cannot_be_resent_by_operations(step_up_request, gateways,
                                                      admin_user):
    gateways.sms.fail_next(PermanentError("sms_invalid_msisdn", system="sms", status=400))
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    services.dispatch(notification.pk)
    from core.errors import StateConflict

    with pytest.raises(StateConflict):
        services.resend_notification(notification.pk, actor=admin_user)
    assert stored(notification).status == Status.FAILED


# --- a code that cannot reach the customer --------------------------------------------------

UNAVAILABLE = TransientError("sms_unavailable", system="sms", status=503)


def _queued_seconds_ago(notification, seconds: float) -> None:
    Notification.objects.filter(pk=notification.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds))


def test_a_code_still_failing_at_the_end_of_its_delivery_budget_fails_at_once(
        step_up_request, gateways, settings):
    settings.NOTIFICATION_OTP_DELIVERY_SECONDS = 60
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    _queued_seconds_ago(notification, 59.5)
    gateways.sms.fail_next(UNAVAILABLE)
    assert services.dispatch(notification.pk) is None  # no retry scheduled
    row = stored(notification)
    assert (row.status, row.last_error, row.secret_context) == (
        Status.FAILED, "gateway_unavailable", None)


def test_a_code_within_its_delivery_budget_is_retried(step_up_request, gateways, settings):
    settings.NOTIFICATION_OTP_DELIVERY_SECONDS = 60
    notification = services.queue_one_time_code(request=step_up_request, code=CODE, sequence=1)
    gateways.sms.fail_next(UNAVAILABLE)
    assert services.dispatch(notification.pk) is not None
    assert stored(notification).status == Status.PENDING


def test_an_ordinary_message_keeps_its_whole_retry_budget(gateways, settings):
    from tests.notifications.conftest import NotificationFactory

    settings.NOTIFICATION_OTP_DELIVERY_SECONDS = 60
    notification = NotificationFactory()
    _queued_seconds_ago(notification, 600)
    gateways.sms.fail_next(UNAVAILABLE)
    assert services.dispatch(notification.pk) is not None
    assert stored(notification).status == Status.PENDING


@pytest.mark.parametrize("error", [UNAVAILABLE, PermanentError("sms_invalid_msisdn", system="sms",
                                                               status=400)])
def test_a_code_that_fails_for_good_is_announced_with_its_request_and_sequence(
        step_up_request, gateways, settings, error):
    from notifications.signals import one_time_code_undeliverable

    settings.NOTIFICATION_OTP_DELIVERY_SECONDS = 60
    heard = []

    def listener(sender, **kwargs):
        heard.append(kwargs)

    one_time_code_undeliverable.connect(listener, dispatch_uid="test-listener")
    try:
        notification = services.queue_one_time_code(request=step_up_request, code=CODE,
                                                    sequence=2)
        _queued_seconds_ago(notification, 59.5)
        gateways.sms.fail_next(error)
        services.dispatch(notification.pk)
    finally:
        one_time_code_undeliverable.disconnect(dispatch_uid="test-listener")
    assert heard == [{"signal": one_time_code_undeliverable, "object_id": step_up_request.pk,
                      "customer_id": "cust_demo", "sequence": 2,
                      "error_code": stored(notification).last_error}]


def test_a_code_that_was_sent_is_not_announced(step_up_request, gateways):
    from notifications.signals import one_time_code_undeliverable

    heard = []
    one_time_code_undeliverable.connect(lambda sender, **kw: heard.append(kw),
                                        dispatch_uid="test-listener", weak=False)
    try:
        notification = services.queue_one_time_code(request=step_up_request, code=CODE,
                                                    sequence=1)
        services.dispatch(notification.pk)
    finally:
        one_time_code_undeliverable.disconnect(dispatch_uid="test-listener")
    assert heard == [] and stored(notification).status == Status.SENT


def test_whether_a_customer_can_get_a_code_by_sms():
    assert services.sms_number_for("cust_nobody", "") == ""
    assert services.sms_number_for("cust_nobody", MSISDN) == MSISDN
    CustomerProfile.objects.create(customer_id="cust_profile", msisdn="+254700000999")
    assert services.sms_number_for("cust_profile", "") == "+254700000999"
