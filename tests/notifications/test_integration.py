"""Notifications end to end: a state change over the API → the live Celery worker → the
sandbox's push or SMS gateway over HTTP, asserted on the sandbox inbox and its duplicate
counter (a `reference` seen twice means one notification went out twice)."""

from __future__ import annotations

import uuid

import pytest
import requests
from django.db import transaction

from notifications import services
from notifications.models import Device, Notification, Status, TemplateKey
from notifications.tasks import send_notification_task
from core.models import Trigger
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory
from tests.live import wait_until  # `stack` comes from ./conftest.py

pytestmark = [pytest.mark.integration]

CUSTOMER = "cust_demo"
MSISDN = "+254700000100"  # cust_demo's number in the sandbox


def _inbox(stack, to: str) -> list[dict]:
    response = requests.get(f"{stack.sandbox}/sandbox/messages", params={"to": to}, timeout=5)
    return response.json()["messages"]


def _messages_for(stack, to: str, count: int, timeout: float = 30.0) -> list[dict]:
    """Wait until `to` has received `count` messages; fail if more ever arrive."""
    messages = wait_until(lambda: (lambda inbox: inbox if len(inbox) >= count else None)(
        _inbox(stack, to)), timeout=timeout, message=f"{count} message(s) to {to}")
    assert len(messages) == count, [m["body"] for m in messages]
    return messages


def _notification(object_id, template_key) -> Notification:
    return wait_until(lambda: Notification.objects.filter(
        object_id=object_id, template_key=template_key).first(),
        message=f"{template_key} notification for {object_id}")


def _sent(notification: Notification, timeout: float = 30.0) -> Notification:
    def done():
        row = Notification.objects.get(pk=notification.pk)
        return row if row.status in (Status.SENT, Status.FAILED) else None

    return wait_until(done, timeout=timeout, message=f"notification {notification.pk} final")


def _no_duplicates(stack) -> dict:
    messages = stack.sandbox_stats()["messages"]
    assert messages["duplicate_references"] == 0, messages["duplicated"]
    return messages


def _tasks_finished(stack, task_ids: list[str]) -> bool:
    """Whether the live worker has logged every one of these tasks as finished."""
    log = stack.worker.log_path.read_text(errors="replace")
    return all(f"[{task_id}] succeeded" in log for task_id in task_ids)


def _register_device(stack, push_token: str) -> None:
    response = stack.client().post(
        f"{stack.api}/api/v1/devices",
        json={"device_id": f"phone-{uuid.uuid4().hex[:8]}", "push_token": push_token,
              "platform": "android"}, timeout=10)
    assert response.status_code == 201, response.text


def test_a_provisioned_card_is_told_once_by_sms_when_no_device_is_registered(stack):
    created = stack.create("card_green")
    stack.wait_for_state(created["id"], State.PROVISIONED)
    [message] = _messages_for(stack, MSISDN, 1)
    assert message["channel"] == "sms"
    assert message["body"].startswith(
        "Your M-Pesa Visa card ending 1111 has been added to Google Pay.")
    notification = _sent(_notification(created["id"], TemplateKey.PROVISIONED))
    assert message["reference"] == str(notification.pk)
    assert notification.fallback_reason == "no_push_token"
    _no_duplicates(stack)


def test_a_swahili_customer_is_told_of_a_declined_card_in_swahili(stack):
    response = stack.client().patch(f"{stack.api}/api/v1/me/preferences",
                                    json={"locale": "sw"}, timeout=10)
    assert response.status_code == 200
    created = stack.create("card_declined", wallet="samsung_pay")
    stack.wait_for_state(created["id"], State.DECLINED)
    [message] = _messages_for(stack, MSISDN, 1)
    assert message["body"] == ("Kadi yako ya M-Pesa Visa inayoishia 0002 haikuweza kuongezwa "
                               "kwenye Samsung Pay. Ombi limekataliwa.")
    _no_duplicates(stack)


def test_a_registered_device_gets_a_push_and_no_sms(stack):
    push_token = f"fcm-{uuid.uuid4().hex}"
    _register_device(stack, push_token)
    created = stack.create("card_blocked")
    stack.wait_for_state(created["id"], State.INELIGIBLE)
    [push] = _messages_for(stack, push_token, 1)
    assert push["channel"] == "push" and push["title"] == "Card not added"
    assert "ending 0069 cannot be added to Google Pay" in push["body"]
    assert _sent(_notification(created["id"], TemplateKey.INELIGIBLE)).status == Status.SENT
    assert _inbox(stack, MSISDN) == []
    _no_duplicates(stack)


def test_a_dead_push_token_falls_back_to_one_sms(stack):
    _register_device(stack, f"dead-{uuid.uuid4().hex}")
    created = stack.create("card_declined")
    stack.wait_for_state(created["id"], State.DECLINED)
    [sms] = _messages_for(stack, MSISDN, 1)
    assert "could not be added to Google Pay" in sms["body"]
    notification = _sent(_notification(created["id"], TemplateKey.DECLINED))
    assert (notification.channel, notification.fallback_reason) == ("sms", "push_unregistered")
    assert not Device.objects.filter(customer_id=CUSTOMER, push_token__startswith="dead-").exists()
    _no_duplicates(stack)


def test_sms_gateway_down_then_up_delivers_once_after_recovery(stack):
    stack.sandbox_post("/sandbox/faults", {"system": "sms", "error_rate": 1.0}).raise_for_status()
    created = stack.create("card_declined")
    stack.wait_for_state(created["id"], State.DECLINED)
    notification = _notification(created["id"], TemplateKey.DECLINED)
    wait_until(lambda: Notification.objects.get(pk=notification.pk).attempts >= 2,
               message="two failed sends while the gateway is down")
    assert _inbox(stack, MSISDN) == []
    requests.delete(f"{stack.sandbox}/sandbox/faults", timeout=5).raise_for_status()
    [sms] = _messages_for(stack, MSISDN, 1)
    row = _sent(notification)
    assert (row.status, sms["reference"]) == (Status.SENT, str(notification.pk))
    assert row.attempts >= 3
    assert stack.sandbox_stats()["faults"]["injected_errors"]["sms"] >= 2
    _no_duplicates(stack)


def test_wallet_side_and_the_customers_own_suspensions_and_resumes_each_tell_them_once(stack):
    created = stack.create("card_green")
    stack.wait_for_state(created["id"], State.PROVISIONED)
    _messages_for(stack, MSISDN, 1)
    token_ref = requests.get(f"{stack.sandbox}/sandbox/tokens",
                             params={"request_id": created["id"]}, timeout=5
                             ).json()["tokens"][0]["token_ref"]
    stack.sandbox_post(f"/sandbox/tokens/{token_ref}/events",
                       {"type": "token.suspended"}).raise_for_status()
    suspended = _messages_for(stack, MSISDN, 2)[-1]
    assert "ending 1111 has been suspended in Google Pay" in suspended["body"]
    # The wallet's suspension is lifted by the wallet (the app may lift only its own).
    stack.sandbox_post(f"/sandbox/tokens/{token_ref}/events",
                       {"type": "token.resumed"}).raise_for_status()
    resumed = _messages_for(stack, MSISDN, 3)[-1]
    assert "ending 1111 can be used in Google Pay again" in resumed["body"]
    token_id = stack.read(created["id"])["token"]["id"]
    for operation, count, text in (("suspend", 4, "has been suspended"),
                                   ("resume", 5, "can be used in Google Pay again")):
        response = stack.client().post(f"{stack.api}/api/v1/tokens/{token_id}/{operation}",
                                       timeout=10)
        assert response.status_code == 202, response.text
        assert text in _messages_for(stack, MSISDN, count)[-1]["body"]
    _no_duplicates(stack)


def test_a_step_up_code_arrives_by_sms_only(stack):
    _register_device(stack, f"fcm-{uuid.uuid4().hex}")
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], State.STEP_UP_REQUIRED)
    [sms] = _messages_for(stack, MSISDN, 1)
    assert "is your code to add your M-Pesa Visa card ending 0010 to Google Pay" in sms["body"]
    assert "expires in 10 minutes" in sms["body"]
    notification = _sent(_notification(created["id"], TemplateKey.STEP_UP_CODE))
    assert (notification.channel, notification.secret_context) == ("sms", None)
    _no_duplicates(stack)


def test_a_redelivered_and_raced_dispatch_sends_one_message(stack):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_id=CUSTOMER,
                                         customer_msisdn=MSISDN, card_last4="1111")
    with transaction.atomic():
        request.mark_provisioned(by=Trigger.WORKER)
        request.save()
    notification = Notification.objects.get(object_id=request.pk)
    # The broker redelivers, and the worker runs three tasks at once.
    duplicates = [send_notification_task.delay(str(notification.pk)).id for _ in range(5)]
    [message] = _messages_for(stack, MSISDN, 1)
    assert message["reference"] == str(notification.pk)
    assert _sent(notification).attempts == 1
    wait_until(lambda: _tasks_finished(stack, duplicates), message="every duplicate task ran")
    assert len(_inbox(stack, MSISDN)) == 1
    _no_duplicates(stack)


def test_nothing_is_sent_for_a_rolled_back_transition(stack):
    rolled_back = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_id=CUSTOMER,
                                             customer_msisdn=MSISDN, card_last4="1111")
    committed = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED, customer_id=CUSTOMER,
                                           customer_msisdn=MSISDN, card_last4="0002")
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back.decline(by=Trigger.WORKER)
        rolled_back.save()
        raise RuntimeError("the service failed after the transition")
    with transaction.atomic():
        committed.decline(by=Trigger.WORKER)
        committed.save()
    # The committed change's message proves the pipeline ran; the other never existed.
    [message] = _messages_for(stack, MSISDN, 1)
    assert "ending 0002" in message["body"]
    assert not Notification.objects.filter(object_id=rolled_back.pk).exists()
    _no_duplicates(stack)


def test_an_outbox_row_whose_task_was_lost_is_sent_by_the_drain(stack, settings):
    settings.NOTIFICATION_DRAIN_AFTER_SECONDS = 0
    request = ProvisioningRequestFactory(state=State.PROVISIONED, customer_id=CUSTOMER)
    lost = Notification.objects.create(
        customer_id=CUSTOMER, object_id=request.pk, event="provisioned:lost", channel="sms",
        template_key=TemplateKey.PROVISIONED, msisdn=MSISDN,
        context={"wallet": "apple_pay", "card_last4": "1111"})  # never enqueued: "lost"
    assert services.drain_outbox()["requeued"] == 1
    [message] = _messages_for(stack, MSISDN, 1)
    assert "added to Apple Pay" in message["body"] and message["reference"] == str(lost.pk)
    _no_duplicates(stack)
