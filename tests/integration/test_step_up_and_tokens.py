"""The yellow path finished by reading the code from the sandbox inbox (as a phone would),
and the token lifecycle from the app and from the wallet side, on the live stack."""

from __future__ import annotations

import re
import time

import pytest
import requests

from provisioning.models import ProvisioningRequest
from tokens.models import Token, WebhookEvent

from tests.live import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.embedded]
MSISDN = "+254700000100"


def latest_code(stack, after: float = 0.0) -> str:
    def found():
        messages = requests.get(f"{stack.sandbox}/sandbox/messages", params={"to": MSISDN},
                                timeout=5).json()["messages"]
        codes = [re.search(r"\b(\d{6})\b", m["body"]) for m in messages]
        codes = [c.group(1) for c in codes if c]
        return codes[-1] if len(codes) > after else None

    return wait_until(found, timeout=20, message="one-time code in the SMS inbox")


def sms_count(stack) -> int:
    return len(requests.get(f"{stack.sandbox}/sandbox/messages", params={"to": MSISDN},
                            timeout=5).json()["messages"])


def test_yellow_push_is_finished_with_the_code_from_the_sms_inbox(stack):
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], "step_up_required")
    code = latest_code(stack)
    response = stack.client().post(
        f"{stack.api}/api/v1/provisioning-requests/{created['id']}/verify",
        json={"otp": code}, timeout=10)
    assert response.status_code == 200, response.text
    stack.wait_terminal(created["id"])
    data = stack.read(created["id"])
    assert data["state"] == "provisioned"
    assert data["token"]["state"] == "active"
    assert data["wallet_payload"] is not None
    stats = stack.sandbox_stats()
    assert stats["calls"]["token_service"]["activate"] == 1
    assert stats["idempotency"]["duplicate_effects"] == 0


def test_wrong_codes_decline_and_delete_the_inactive_token(stack):
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], "step_up_required")
    code = latest_code(stack)
    wrong = "000000" if code != "000000" else "111111"
    client = stack.client()
    url = f"{stack.api}/api/v1/provisioning-requests/{created['id']}/verify"
    answers = [client.post(url, json={"otp": wrong}, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert [a.json()["error"]["details"]["attempts_left"] for a in answers] == [2, 1, 0]
    assert stack.read(created["id"])["state"] == "declined"
    token = Token.objects.get(provisioning_request_id=created["id"])
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "deleted", timeout=20,
               message="inactive token deleted at the token service")


def test_resend_sends_a_fresh_code_and_the_old_one_dies(stack, settings):
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], "step_up_required")
    old = latest_code(stack)
    sent_before = sms_count(stack)
    # The customer waited the minute out: move the last-sent time back instead of sleeping.
    from datetime import timedelta

    from django.utils import timezone

    ProvisioningRequest.objects.filter(pk=created["id"]).update(
        otp_last_sent_at=timezone.now() - timedelta(seconds=61))
    client = stack.client()
    resend = client.post(f"{stack.api}/api/v1/provisioning-requests/{created['id']}/resend-otp",
                         timeout=10)
    assert resend.status_code == 202
    new = latest_code(stack, after=sent_before)
    url = f"{stack.api}/api/v1/provisioning-requests/{created['id']}/verify"
    if new != old:
        assert client.post(url, json={"otp": old}, timeout=10).status_code == 422
    assert client.post(url, json={"otp": new}, timeout=10).status_code == 200
    assert stack.wait_terminal(created["id"]).state == "provisioned"


def test_second_push_of_the_same_card_to_the_same_wallet_and_device_is_409(stack):
    first = stack.create("card_green", device_id="pixel-dup")
    stack.wait_terminal(first["id"])
    response = stack.post_create("card_green", device_id="pixel-dup")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_provisioned"


def test_second_push_while_the_first_is_still_moving_is_409_in_progress(stack):
    # card_late waits about half a second for its decision by webhook: the second push
    # arrives while the first is still moving, on either database backend.
    first = stack.create("card_late", device_id="pixel-busy")
    response = stack.post_create("card_late", device_id="pixel-busy")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "provisioning_in_progress"
    assert error["details"]["provisioning_request_id"] == first["id"]
    assert stack.wait_terminal(first["id"]).state == "provisioned"


def test_app_suspends_resumes_and_deletes_its_token(stack):
    created = stack.create("card_green")
    stack.wait_terminal(created["id"])
    token_id = stack.read(created["id"])["token"]["id"]
    client = stack.client()
    for operation, expected in (("suspend", "suspended"), ("resume", "active"),
                                ("delete", "deleted")):
        response = client.post(f"{stack.api}/api/v1/tokens/{token_id}/{operation}", timeout=10)
        assert response.status_code == 202, response.text
        wait_until(lambda: Token.objects.get(pk=token_id).state == expected, timeout=20,
                   message=f"token {expected}")
    again = client.post(f"{stack.api}/api/v1/tokens/{token_id}/resume", timeout=10)
    assert again.status_code == 409
    stats = stack.sandbox_stats()
    assert stats["idempotency"]["duplicate_effects"] == 0
    for operation in ("suspend", "resume", "delete"):
        assert stats["calls"]["token_service"][operation] == 1


def test_wallet_side_events_move_the_token_and_replays_change_nothing(stack):
    created = stack.create("card_green")
    stack.wait_terminal(created["id"])
    token = Token.objects.get(provisioning_request_id=created["id"])
    sent = stack.sandbox_post(f"/sandbox/tokens/{token.token_ref}/events",
                              {"type": "token.suspended"})
    assert sent.status_code == 202
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "suspended", timeout=20,
               message="token suspended by webhook")
    replay = stack.sandbox_post("/sandbox/webhooks/replay", {"event_id": sent.json()["event_id"]})
    assert replay.json()["status_code"] == 200
    assert Token.objects.get(pk=token.pk).state == "suspended"
    assert WebhookEvent.objects.filter(event_id=sent.json()["event_id"]).count() == 1
    stack.sandbox_post(f"/sandbox/tokens/{token.token_ref}/events", {"type": "token.resumed"})
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "active", timeout=20,
               message="token resumed by webhook")
    stack.sandbox_post(f"/sandbox/tokens/{token.token_ref}/events", {"type": "token.deleted"})
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "deleted", timeout=20,
               message="token deleted by webhook")


def test_reconciliation_fixes_drift_from_a_lost_webhook(stack):
    from core.models import TransitionLog
    from tokens import services as token_services

    created = stack.create("card_green")
    stack.wait_terminal(created["id"])
    token = Token.objects.get(provisioning_request_id=created["id"])
    # The wallet suspends the token but the webhook is never delivered.
    sent = stack.sandbox_post(f"/sandbox/tokens/{token.token_ref}/events",
                              {"type": "token.suspended", "deliver": False})
    assert sent.status_code == 200
    Token.objects.exclude(pk=token.pk).update(last_reconciled_at=__import__(
        "django.utils.timezone", fromlist=["now"]).now())
    counts = token_services.reconcile_tokens()
    assert counts["drift"] == 1
    assert Token.objects.get(pk=token.pk).state == "suspended"
    row = TransitionLog.objects.filter(object_id=token.pk).last()
    assert (row.to_state, row.trigger) == ("suspended", "beat")


# --- a step-up that cannot reach the customer ends at once -----------------------------------

def sandbox_token(stack, request_id: str) -> dict:
    [token] = requests.get(f"{stack.sandbox}/sandbox/tokens", params={"request_id": request_id},
                           timeout=5).json()["tokens"]
    return token


def test_a_code_the_sms_gateway_cannot_deliver_ends_the_step_up_within_its_budget(stack,
                                                                                 settings):
    stack.sandbox_post("/sandbox/faults", {"system": "sms", "error_rate": 1.0}).raise_for_status()
    created = stack.create("card_stepup")
    stepped = stack.wait_for_state(created["id"], "step_up_required")
    # Far sooner than the code's ten minutes: the code's own delivery budget (a few seconds
    # in the test settings) and the retries in it.
    ended = stack.wait_terminal(created["id"], timeout=30)
    assert (ended.state, ended.failure_code) == ("declined", "step_up_unreachable")
    assert (ended.state_changed_at - stepped.state_changed_at).total_seconds() < 30
    assert stack.read(created["id"])["failure"]["code"] == "try_again_later"
    assert stack.sandbox_stats()["faults"]["injected_errors"]["sms"] >= 1
    # The inactive token is deleted at the token service, as for any failed step-up.
    token = Token.objects.get(provisioning_request_id=created["id"])
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "deleted", timeout=20,
               message="inactive token deleted")
    assert sandbox_token(stack, created["id"])["status"] == "DELETED"
    assert stack.sandbox_stats()["calls"]["token_service"]["delete"] == 1


def test_a_customer_with_no_number_on_file_is_not_left_waiting_for_a_code(stack):
    from decisioning.models import DecisionRule
    from tests.live import luhn_pan

    # Operations let pushes through when the SIM-swap date cannot be learned (a number is
    # needed to ask), so the step-up itself meets the missing number.
    DecisionRule.objects.filter(key="sim-swap").update(
        params={"decline_within_hours": 168, "on_lookup_failure": "green"})
    customer = f"cust_nonumber_{time.time_ns()}"
    card = stack.sandbox_post("/sandbox/cards", {
        "customer_id": customer, "pan": luhn_pan("0010"), "expiry": "12/30",
        "status": "active"}).json()["card_id"]
    created = stack.create(card, customer_id=customer)
    ended = stack.wait_terminal(created["id"], timeout=20)
    assert (ended.state, ended.failure_code) == ("declined", "step_up_no_number")
    assert stack.read(created["id"], customer_id=customer)["failure"]["code"] == "contact_support"
    assert not stack.sandbox_stats()["calls"].get("sms")
    token = Token.objects.get(provisioning_request_id=created["id"])
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "deleted", timeout=20,
               message="inactive token deleted")
    assert sandbox_token(stack, created["id"])["status"] == "DELETED"


# --- who may lift a suspension; cancel during step-up ----------------------------------------

def test_the_app_cannot_lift_a_wallet_side_suspension_but_operations_can(stack):
    from django.test import Client

    from core.models import TransitionLog
    from tests.operations.conftest import OPERATIONS_PERMISSIONS, make_staff_user

    created = stack.create("card_green")
    stack.wait_terminal(created["id"])
    token = Token.objects.get(provisioning_request_id=created["id"])
    stack.sandbox_post(f"/sandbox/tokens/{token.token_ref}/events",
                       {"type": "token.suspended"}).raise_for_status()
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "suspended", timeout=20,
               message="token suspended by webhook")
    assert Token.objects.get(pk=token.pk).suspended_by == "token_service"
    refused = stack.client().post(f"{stack.api}/api/v1/tokens/{token.pk}/resume", timeout=10)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "resume_not_allowed"
    operations = Client()
    operations.force_login(make_staff_user("ops_live", OPERATIONS_PERMISSIONS))
    answer = operations.post(f"/admin/tokens/token/{token.pk}/operation/resume/")
    assert answer.status_code == 302
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "active", timeout=20,
               message="token resumed by operations")
    row = TransitionLog.objects.filter(object_id=token.pk).order_by("id").last()
    assert (row.transition, row.trigger, row.actor) == ("resume", "admin", "ops_live")
    assert sandbox_token(stack, created["id"])["status"] == "ACTIVE"
    assert stack.sandbox_stats()["calls"]["token_service"]["resume"] == 1


def test_cancel_during_step_up_deletes_the_inactive_token_at_the_token_service(stack):
    created = stack.create("card_stepup")
    stack.wait_for_state(created["id"], "step_up_required")
    assert sandbox_token(stack, created["id"])["status"] == "INACTIVE"
    response = stack.client().post(
        f"{stack.api}/api/v1/provisioning-requests/{created['id']}/cancel", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    wait_until(lambda: stack.sandbox_stats()["calls"]["token_service"].get("delete") == 1,
               timeout=20, message="the token service asked to delete the token")
    assert sandbox_token(stack, created["id"])["status"] == "DELETED"
    token = Token.objects.get(provisioning_request_id=created["id"])
    wait_until(lambda: Token.objects.get(pk=token.pk).state == "deleted", timeout=20,
               message="our token row deleted")
    assert stack.sandbox_stats()["idempotency"]["duplicate_effects"] == 0
