"""API v1 for provisioning requests: auth, validation, idempotency, scoping, errors."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.conf import settings
from joserfc import jwt
from joserfc.jwk import RSAKey
from rest_framework.test import APIClient

from core import dev_keys
from provisioning import services
from provisioning.models import IdempotencyKey, ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory

URL = "/api/v1/provisioning-requests"


def body(**overrides):
    data = {"card_id": "card_green", "wallet": "google_pay",
            "device": {"id": "device-1", "type": "phone", "os": "android-15"}}
    data.update(overrides)
    return data


def post(client, data=None, key=None):
    return client.post(URL, data or body(), format="json",
                       HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def _client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _claims(**overrides):
    now = int(time.time())
    claims = {"iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "sub": "cust_demo",
              "iat": now, "nbf": now, "exp": now + 600}
    claims.update(overrides)
    return claims


def _rsa_token(claims, kid=None):
    keys = dev_keys.load(settings.DEV_KEYS_FILE)
    header = {"alg": "RS256", "kid": kid or keys["jwt_kid"]}
    return jwt.encode(header, claims, RSAKey.import_key(keys["jwt_private_pem"]))


# --- authentication -----------------------------------------------------------------

@pytest.mark.django_db
def test_missing_token_is_401_with_the_error_shape(anon_client):
    response = anon_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_expired_token_is_401():
    token = _rsa_token(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200,
                               nbf=int(time.time()) - 7200))
    response = _client_with(token).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_token_not_yet_valid_is_401():
    token = _rsa_token(_claims(nbf=int(time.time()) + 3600))
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_wrong_audience_is_401():
    assert _client_with(_rsa_token(_claims(aud="someone-else"))).get(URL).status_code == 401


@pytest.mark.django_db
def test_wrong_issuer_is_401():
    assert _client_with(_rsa_token(_claims(iss="https://evil.example"))).get(URL).status_code == 401


@pytest.mark.django_db
def test_unknown_key_id_is_401():
    assert _client_with(_rsa_token(_claims(), kid="rotated-out")).get(URL).status_code == 401


@pytest.mark.django_db
def test_hmac_token_signed_with_the_public_key_is_401():
    # The classic algorithm-confusion attack: HS256 keyed with the RSA public key.
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    public_pem = dev_keys.load(settings.DEV_KEYS_FILE)["jwt_public_pem"]
    signing_input = (b64(json.dumps({"alg": "HS256", "kid": "dev-jwt-1"}).encode()) + "."
                     + b64(json.dumps(_claims()).encode()))
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_alg_none_token_is_401():
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims())}."
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_garbage_bearer_is_401():
    assert _client_with("not.a.jwt").get(URL).status_code == 401


# --- create and validation ----------------------------------------------------------

@pytest.mark.django_db
def test_create_returns_202_in_state_received(api_client, customer_id):
    response = post(api_client)
    assert response.status_code == 202
    data = response.json()
    assert data["state"] == "received"
    assert data["wallet"] == "google_pay"
    assert data["device"] == {"id": "device-1", "type": "phone", "os": "android-15"}
    assert ProvisioningRequest.objects.get(pk=data["id"]).customer_id == customer_id


@pytest.mark.django_db
def test_create_without_idempotency_key_is_400(api_client):
    response = api_client.post(URL, body(), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    assert ProvisioningRequest.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [
    {"wallet": "paypal"},
    {"card_id": ""},
    {"card_id": "x" * 65},
    {"card_id": "card;DROP TABLE"},
    {"device": {"id": "d", "type": "toaster", "os": "x"}},
    {"device": "phone"},
    {"wallet": "apple_pay"},  # apple data missing
    {"apple": {"certificates": ["AA=="], "nonce": "AA==", "nonce_signature": "AA=="}},
    {"surprise": 1},
])
def test_invalid_body_is_400_with_field_details_and_creates_nothing(api_client, bad):
    response = post(api_client, body(**bad))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]
    assert ProvisioningRequest.objects.count() == 0


@pytest.mark.django_db
def test_apple_pay_with_invalid_base64_is_400(api_client):
    apple = {"certificates": ["not base64!"], "nonce": "AAAA", "nonce_signature": "AAAA"}
    response = post(api_client, body(wallet="apple_pay", apple=apple))
    assert response.status_code == 400
    assert "apple" in response.json()["error"]["details"]["fields"]


@pytest.mark.django_db
def test_apple_pay_with_valid_data_is_accepted(api_client):
    apple = {"certificates": ["MIIBAAAA", "MIICAAAA"], "nonce": "q83vEg==",
             "nonce_signature": "c2lnbmF0dXJl"}
    response = post(api_client, body(wallet="apple_pay", apple=apple))
    assert response.status_code == 202
    assert ProvisioningRequest.objects.get(pk=response.json()["id"]).wallet_data == apple


@pytest.mark.django_db
def test_malformed_json_is_400(api_client):
    response = api_client.post(URL, b'{"card_id": ', content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="k-malformed")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


@pytest.mark.django_db
def test_wrong_content_type_is_415(api_client):
    response = api_client.post(URL, "card_id=x", content_type="text/plain",
                               HTTP_IDEMPOTENCY_KEY="k-text")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


# --- idempotency --------------------------------------------------------------------

@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(api_client):
    first = post(api_client, key="key-1")
    second = post(api_client, key="key-1")
    assert second.status_code == first.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert ProvisioningRequest.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_422(api_client):
    post(api_client, key="key-2")
    response = post(api_client, body(wallet="samsung_pay"), key="key-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert ProvisioningRequest.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_customer(api_client, other_client):
    mine = post(api_client, key="shared-key")
    theirs = post(other_client, key="shared-key")
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.django_db
def test_key_in_flight_is_409(api_client, customer_id):
    IdempotencyKey.objects.create(customer_id=customer_id, key="busy",
                                  request_fingerprint=__import__("provisioning.idempotency",
                                  fromlist=["x"]).fingerprint(body()))
    response = post(api_client, key="busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_request(customer_id, monkeypatch):
    from django.db import connection

    inside, release = threading.Event(), threading.Event()
    real_create = services.create_provisioning_request

    def slow_create(new):
        inside.set()
        release.wait(10)
        return real_create(new)

    monkeypatch.setattr(services, "create_provisioning_request", slow_create)
    from core.auth import mint_dev_token

    token = mint_dev_token(customer_id)
    results = {}

    def first():
        try:
            results["first"] = post(_client_with(token), key="race")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    results["second"] = post(_client_with(token), key="race")
    release.set()
    thread.join(10)
    assert results["first"].status_code == 202
    assert results["second"].status_code == 409
    assert ProvisioningRequest.objects.count() == 1
    replay = post(_client_with(token), key="race")
    assert replay.status_code == 202 and replay.json()["id"] == results["first"].json()["id"]


@pytest.mark.django_db
def test_failed_create_frees_the_key_for_a_retry(api_client, monkeypatch):
    def broken(new):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(services, "create_provisioning_request", broken)
    api_client.raise_request_exception = False
    assert post(api_client, key="retry-me").status_code == 500
    monkeypatch.undo()
    assert post(api_client, key="retry-me").status_code == 202


# --- read, list, scoping --------------------------------------------------------------

@pytest.mark.django_db
def test_another_customers_request_is_404(api_client, other_client):
    created = post(api_client).json()
    response = other_client.get(f"{URL}/{created['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_unknown_or_malformed_id_is_404(api_client, bad_id):
    response = api_client.get(f"{URL}/{bad_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_read_shows_failure_and_card_last4(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.FAILED,
                                         failure_code="issuer_timeout",
                                         failure_message="issuer did not answer", card_last4="0044")
    data = api_client.get(f"{URL}/{request.id}").json()
    # The customer-facing code; the precise one stays on the row (admin, logs).
    assert data["failure"] == {"code": "try_again_later",
                               "message": "We could not add your card right now. "
                                          "Please try again later."}
    assert data["card_last4"] == "0044"
    assert data["token"] is None and data["wallet_payload"] is None


@pytest.mark.django_db
def test_list_shows_only_my_requests_filtered_and_paginated(api_client, customer_id):
    for _ in range(3):
        ProvisioningRequestFactory(customer_id=customer_id, state=State.PROVISIONED)
    ProvisioningRequestFactory(customer_id=customer_id, state=State.DECLINED)
    ProvisioningRequestFactory(customer_id="cust_other", state=State.PROVISIONED)
    page = api_client.get(URL, {"state": "provisioned", "page_size": 2}).json()
    assert len(page["results"]) == 2
    assert all(item["state"] == "provisioned" for item in page["results"])
    rest = api_client.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert len(api_client.get(URL).json()["results"]) == 4


@pytest.mark.django_db
def test_list_with_unknown_state_filter_is_400(api_client):
    response = api_client.get(URL, {"state": "teleported"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


# --- cancel ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_cancel_in_received_is_200_and_cancelled(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.RECEIVED)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.TOKEN_REQUESTED, State.PROVISIONED, State.FAILED])
def test_cancel_where_the_state_forbids_is_409(api_client, customer_id, state):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=state)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cancel_not_allowed"
    assert ProvisioningRequest.objects.get(pk=request.pk).state == state


@pytest.mark.django_db
def test_cancel_once_the_code_was_accepted_is_409_and_activation_goes_on(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.STEP_UP_REQUIRED,
                                         otp_expires_at=None, otp_hash="")
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["details"]) == (
        "cancel_not_allowed", {"state": "step_up_required", "activation_in_progress": True})
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.STEP_UP_REQUIRED


@pytest.mark.django_db
def test_cancel_during_step_up_deletes_the_inactive_token(api_client, customer_id):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import TokenFactory
    from tokens.models import Token, TokenState

    request = ProvisioningRequestFactory(
        customer_id=customer_id, state=State.STEP_UP_REQUIRED, otp_hash="x" * 64,
        otp_expires_at=timezone.now() + timedelta(minutes=5))
    token = TokenFactory(provisioning_request=request, customer_id=customer_id,
                         state=TokenState.INACTIVE)
    response = api_client.post(f"{URL}/{request.id}/cancel")
    assert response.status_code == 200
    assert response.json()["failure"]["code"] == "cancelled_by_customer"
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.otp_hash) == (State.CANCELLED, "")
    assert Token.objects.get(pk=token.pk).operations_requested == 1  # delete enqueued


@pytest.mark.django_db
def test_cancel_of_another_customers_request_is_404(other_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.RECEIVED)
    assert other_client.post(f"{URL}/{request.id}/cancel").status_code == 404
    assert ProvisioningRequest.objects.get(pk=request.pk).state == State.RECEIVED


# --- docs and health ------------------------------------------------------------------

@pytest.mark.django_db
def test_openapi_schema_lists_the_provisioning_paths(anon_client):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/provisioning-requests" in response.content.decode()


@pytest.mark.django_db
def test_unknown_path_is_json_404(anon_client):
    response = anon_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
