"""The token-service webhook: signatures, tolerance, malformed input, replay, dispatch."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.conf import settings

from provisioning.models import ProvisioningRequest, State, TransitionLog
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tokens.models import Token, TokenState, WebhookEvent
from tokens.webhooks import sign

URL = "/webhooks/token-service"


def deliver(client, event: dict | bytes, *, secret: str | None = None, timestamp: int | None = None,
            signature: str | None = None):
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    sig = signature or sign(secret or settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0], ts, raw)
    return client.post(URL, raw, content_type="application/json",
                       HTTP_X_WEBHOOK_TIMESTAMP=ts, HTTP_X_WEBHOOK_SIGNATURE=sig)


def decision_event(request_id, decision="green", **data):
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "provisioning.decision",
            "created": int(time.time()),
            "data": {"request_id": str(request_id), "decision": decision,
                     "token_ref": f"tkn_{uuid.uuid4().hex[:8]}", "token_last4": "5678",
                     "token_expiry": "11/30",
                     "wallet_payload": {"opaque_payment_card": "c2VjcmV0"}, **data}}


def lifecycle_event(token_ref, kind, created=None):
    return {"id": f"evt_{uuid.uuid4().hex}", "type": kind,
            "created": created or int(time.time()), "data": {"token_ref": token_ref}}


@pytest.mark.django_db
def test_signed_decision_provisions_a_pending_request(client):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    response = deliver(client, decision_event(request.pk))
    assert response.status_code == 200
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert TransitionLog.objects.get(object_id=request.pk).trigger == "webhook"


@pytest.mark.django_db
def test_stored_event_never_keeps_the_wallet_payload(client):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    deliver(client, decision_event(request.pk))
    stored = WebhookEvent.objects.get()
    assert "wallet_payload" not in json.dumps(stored.payload)


@pytest.mark.django_db
def test_replayed_event_changes_nothing(client):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    event = decision_event(request.pk)
    deliver(client, event)
    again = deliver(client, event)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert Token.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("tamper", ["signature", "body", "secret"])
def test_forged_webhook_is_401_and_changes_nothing(client, tamper):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    event = decision_event(request.pk)
    raw = json.dumps(event).encode()
    ts = str(int(time.time()))
    if tamper == "signature":
        response = deliver(client, raw, signature="v1=" + "0" * 64)
    elif tamper == "secret":
        response = deliver(client, raw, secret="whsec_not_ours")
    else:
        good = sign(settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0], ts, raw)
        forged = raw.replace(b'"green"', b'"red"')
        response = deliver(client, forged, timestamp=int(ts), signature=good)
    assert response.status_code == 401
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.TOKEN_REQUESTED
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_stale_or_future_timestamp_is_401(client, skew):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    response = deliver(client, decision_event(request.pk), timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "timestamp_out_of_tolerance"


@pytest.mark.django_db
def test_missing_signature_headers_is_401(client):
    response = client.post(URL, b"{}", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_second_secret_is_accepted_during_rotation(client, settings):
    settings.TOKEN_SERVICE_WEBHOOK_SECRETS = ["whsec_new", settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0]]
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    assert deliver(client, decision_event(request.pk), secret="whsec_new").status_code == 200
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"id": "evt_1"}',
                                 b'{"id": "e", "type": "x", "created": "yesterday", "data": {}}'])
def test_malformed_signed_event_is_400(client, raw):
    response = deliver(client, raw)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_oversized_body_is_413(client, settings):
    settings.WEBHOOK_MAX_BYTES = 100
    response = deliver(client, b"{" + b" " * 200 + b"}")
    assert response.status_code == 413


@pytest.mark.django_db
def test_decision_for_an_unknown_request_is_acknowledged_and_kept(client):
    response = deliver(client, decision_event(uuid.uuid4()))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.UNKNOWN_OBJECT


@pytest.mark.django_db
def test_decision_for_a_request_already_decided_is_ignored(client):
    request = ProvisioningRequestFactory(state=State.DECLINED)
    assert deliver(client, decision_event(request.pk)).json()["outcome"] == "ignored"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.DECLINED


@pytest.mark.django_db
def test_lifecycle_event_suspends_the_token(client):
    token = TokenFactory(state=TokenState.ACTIVE)
    assert deliver(client, lifecycle_event(token.token_ref, "token.suspended")).status_code == 200
    assert Token.objects.get(pk=token.pk).state == TokenState.SUSPENDED


@pytest.mark.django_db
def test_older_event_never_moves_a_token_back(client):
    token = TokenFactory(state=TokenState.ACTIVE)
    now = int(time.time())
    deliver(client, lifecycle_event(token.token_ref, "token.suspended", created=now))
    stale = deliver(client, lifecycle_event(token.token_ref, "token.resumed", created=now - 60))
    assert stale.json()["outcome"] == "ignored"
    assert Token.objects.get(pk=token.pk).state == TokenState.SUSPENDED


@pytest.mark.django_db
def test_event_for_an_unknown_token_is_acknowledged_for_reconciliation(client):
    response = deliver(client, lifecycle_event("tkn_nobody", "token.deleted"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.UNKNOWN_OBJECT


@pytest.mark.django_db
def test_token_updated_event_records_the_new_last_four_and_expiry(client):
    token = TokenFactory(state=TokenState.ACTIVE, token_last4="4242", token_expiry="12/29")
    event = lifecycle_event(token.token_ref, "token.updated")
    event["data"].update({"token_last4": "9911", "token_expiry": "06/31"})
    assert deliver(client, event).json()["outcome"] == "applied"
    stored = Token.objects.get(pk=token.pk)
    assert (stored.token_last4, stored.token_expiry, stored.state) == ("9911", "06/31", "active")
