"""The token-service webhook: signatures, tolerance, malformed input, replay, dispatch."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.conf import settings

from core.models import TransitionLog

from provisioning.models import ProvisioningRequest, State
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
                                 b'{"id": "e", "type": "x", "created": "yesterday", "data": {}}',
                                 b'{"id": "e", "type": "x", "created": 1e400, "data": {}}',
                                 b'{"id": "e", "type": "x", "created": NaN, "data": {}}',
                                 b'{"id": "e", "type": "x", "created": -99999999999, "data": {}}',
                                 b'{"id": "e", "type": "x", "created": 10000000000000000000000,'
                                 b' "data": {}}'])
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


# --- malformed headers and bodies are coded 400s ---------------------------------------

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _now_written(table) -> str:
    return str(int(time.time())).translate(table)


@pytest.mark.django_db
@pytest.mark.parametrize("timestamp", [
    pytest.param(lambda: _now_written(_ARABIC_INDIC), id="arabic-indic digits"),
    pytest.param(lambda: _now_written(_FULL_WIDTH), id="full-width digits"),
    pytest.param(lambda: _now_written(_SUPERSCRIPT), id="superscript digits"),
    pytest.param(lambda: "+" + str(int(time.time())), id="signed"),
    pytest.param(lambda: str(int(time.time())) + ".5", id="fractional"),
    pytest.param(lambda: "1" * 13, id="too long"),
])
def test_a_timestamp_that_is_not_ascii_unix_seconds_is_a_coded_400(client, timestamp):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    raw = json.dumps(decision_event(request.pk)).encode()
    ts = timestamp()
    # Signed with the right secret over the very same timestamp text: only its form is wrong.
    response = client.post(URL, raw, content_type="application/json",
                           HTTP_X_WEBHOOK_TIMESTAMP=ts,
                           HTTP_X_WEBHOOK_SIGNATURE=sign(
                               settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0], ts, raw))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "timestamp_invalid"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.TOKEN_REQUESTED
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("signature", [
    pytest.param("v1=" + "é" * 64, id="non-ascii"),
    pytest.param("v1=" + "0" * 63 + "\x00", id="control character"),
    pytest.param("v1=" + "0" * 64 + ",v1=" * 200, id="too long"),
])
def test_a_malformed_signature_header_is_a_coded_400(client, signature):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    response = deliver(client, decision_event(request.pk), signature=signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signature_malformed"
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_content_length_in_non_ascii_digits_is_a_coded_400(client):
    raw = b"{}"
    ts = str(int(time.time()))
    response = client.generic("POST", URL, raw, content_type="application/json",
                              CONTENT_LENGTH="٢", HTTP_X_WEBHOOK_TIMESTAMP=ts,
                              HTTP_X_WEBHOOK_SIGNATURE=sign(
                                  settings.TOKEN_SERVICE_WEBHOOK_SECRETS[0], ts, raw))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [40, 5_000, 30_000])
def test_a_signed_body_nested_deeply_is_a_coded_400(client, depth):
    raw = json.dumps({"id": "evt_deep", "type": "token.updated", "created": int(time.time()),
                      "data": {"token_ref": "tkn_x"}}).encode()
    raw = raw[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}"
    response = deliver(client, raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert not WebhookEvent.objects.exists()


# --- an event whose effect failed is applied when it comes again ------------------------

@pytest.mark.django_db
def test_an_event_whose_effect_failed_is_applied_when_the_token_service_retries(client,
                                                                              settings):
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    event = decision_event(request.pk)
    good_key = settings.ENCRYPTION_ACTIVE_KEY_ID
    # A key ring rolled out half way: sealing the wallet payload fails inside the effect.
    settings.ENCRYPTION_ACTIVE_KEY_ID = "key-not-rolled-out-yet"
    client.raise_request_exception = False
    first = deliver(client, event)
    assert first.status_code >= 500  # the token service will deliver it again
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.TOKEN_REQUESTED

    settings.ENCRYPTION_ACTIVE_KEY_ID = good_key
    retried = deliver(client, event)
    assert retried.status_code == 200 and retried.json()["outcome"] == "applied"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.PROVISIONED
    assert Token.objects.filter(provisioning_request_id=request.pk).count() == 1
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.APPLIED


@pytest.mark.django_db
def test_an_event_applied_after_a_retry_never_acts_twice(client, settings):
    token = TokenFactory(state=TokenState.ACTIVE)
    suspended = lifecycle_event(token.token_ref, "token.suspended")
    good_key = settings.ENCRYPTION_ACTIVE_KEY_ID
    settings.ENCRYPTION_ACTIVE_KEY_ID = "key-not-rolled-out-yet"
    client.raise_request_exception = False
    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    failing = decision_event(request.pk)
    assert deliver(client, failing).status_code >= 500
    settings.ENCRYPTION_ACTIVE_KEY_ID = good_key
    assert deliver(client, failing).json()["outcome"] == "applied"
    assert deliver(client, suspended).json()["outcome"] == "applied"
    # The customer resumes; a late copy of the applied events must not undo either.
    Token.objects.filter(pk=token.pk).update(state=TokenState.ACTIVE)
    assert deliver(client, failing).json()["outcome"] == "duplicate"
    assert deliver(client, suspended).json()["outcome"] == "duplicate"
    assert Token.objects.get(pk=token.pk).state == TokenState.ACTIVE
    assert Token.objects.filter(provisioning_request_id=request.pk).count() == 1
    assert WebhookEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_event_delivered_at_once_act_once():
    import threading

    from django.db import connection
    from django.test import Client

    request = ProvisioningRequestFactory(state=State.TOKEN_REQUESTED)
    event = decision_event(request.pk)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver_a_copy():
        try:
            start.wait(timeout=10)
            outcomes.append(deliver(Client(), event).json()["outcome"])
        finally:
            connection.close()  # this thread's own connection

    copies = [threading.Thread(target=deliver_a_copy) for _ in range(2)]
    for copy in copies:
        copy.start()
    for copy in copies:
        copy.join(timeout=30)
    assert sorted(outcomes) == ["applied", "duplicate"]
    assert Token.objects.filter(provisioning_request_id=request.pk).count() == 1
    assert TransitionLog.objects.filter(object_id=request.pk).count() == 1
