"""API v1 for provisioning requests: validation, idempotency, scoping, errors.
(Authentication: test_api_auth.py; cancelling: test_api_cancel.py.)"""

from __future__ import annotations

import threading
import uuid

import pytest

from provisioning import services
from provisioning.models import IdempotencyKey, ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from tests.provisioning.api_support import URL, _client_with, body, post

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


@pytest.mark.django_db
def test_a_key_past_its_ttl_is_used_afresh_and_a_live_one_is_not(api_client, customer_id,
                                                                   settings):
    from datetime import timedelta

    from django.utils import timezone

    first = post(api_client, key="old-key")
    IdempotencyKey.objects.filter(key="old-key").update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(seconds=1))
    ProvisioningRequest.objects.filter(pk=first.json()["id"]).update(state="failed")
    # Another body under the expired key: a new request, not a 422 and not a replay.
    again = post(api_client, body(wallet="samsung_pay"), key="old-key")
    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again
    stored = IdempotencyKey.objects.get(customer_id=customer_id, key="old-key")
    assert (stored.status, str(stored.provisioning_request_id)) == ("completed", again.json()["id"])
    # Now live again: the same body replays the new answer, another body is refused.
    assert post(api_client, body(wallet="samsung_pay"), key="old-key").json() == again.json()
    assert post(api_client, key="old-key").status_code == 422


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
