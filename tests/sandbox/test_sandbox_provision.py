"""Token service provision: outcomes by PAN suffix, JWE and card checks, idempotency."""

from __future__ import annotations

import base64
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from joserfc.jwk import RSAKey

from core import dev_keys

pytestmark = []

PAN = {
    "green": "4111111111111111",
    "red": "4000000000000002",
    "yellow": "4000000000000010",
    "flaky": "4000000000000028",
    "late": "4000000000000036",
    "slow": "4000000000000044",
}
APPLE = {
    "certificates": [base64.b64encode(b"leaf").decode(), base64.b64encode(b"sub-ca").decode()],
    "nonce": base64.b64encode(b"nonce").decode(),
    "nonce_signature": base64.b64encode(b"signed nonce").decode(),
}


def is_base64(value):
    return isinstance(value, str) and len(base64.b64decode(value, validate=True)) > 0


# outcomes by last four ---------------------------------------------------------------------


def test_green_card_gets_an_active_token_and_a_google_payload(tms):
    response = tms.provision("req_green", PAN["green"])

    body = response.json()
    assert response.status_code == 201
    assert (body["decision"], body["status"]) == ("green", "ACTIVE")
    assert body["token_ref"].startswith("tok_")
    assert len(body["token_last4"]) == 4 and body["token_expiry"][2] == "/"
    assert list(body["wallet_payload"]) == ["opaque_payment_card"]
    assert is_base64(body["wallet_payload"]["opaque_payment_card"])
    assert tms.token(body["token_ref"]).json()["status"] == "ACTIVE"


def test_apple_pay_answer_carries_the_three_apple_fields(tms):
    response = tms.provision("req_apple", PAN["green"], wallet="apple_pay", apple=APPLE)

    payload = response.json()["wallet_payload"]
    assert response.status_code == 201
    assert set(payload) == {"encrypted_pass_data", "activation_data", "ephemeral_public_key"}
    assert all(is_base64(value) for value in payload.values())


@pytest.mark.parametrize(
    "apple",
    [
        None,
        {**APPLE, "certificates": []},
        {**APPLE, "nonce": "not base64!"},
        {**APPLE, "nonce_signature": None},
        {**APPLE, "certificates": ["%%%"]},
    ],
)
def test_apple_pay_without_valid_apple_data_is_refused(tms, apple):
    response = tms.provision("req_apple", PAN["green"], wallet="apple_pay", apple=apple)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_apple_data"


def test_0002_is_declined_red(tms):
    response = tms.provision("req_red", PAN["red"])

    assert response.status_code == 200
    assert response.json() == {"decision": "red", "token_ref": None, "reason": "risk_declined"}
    assert tms.call("GET", "/tms/v2/provisions/req_red").json()["decision"] == "red"


def test_0010_is_yellow_with_an_inactive_token(tms):
    response = tms.provision("req_yellow", PAN["yellow"])

    body = response.json()
    assert response.status_code == 201
    assert (body["decision"], body["status"]) == ("yellow", "INACTIVE")
    assert tms.token(body["token_ref"]).json()["status"] == "INACTIVE"


def test_0028_answers_503_twice_then_green_for_one_key(tms):
    statuses = [tms.provision("req_flaky", PAN["flaky"]).status_code for _ in range(4)]

    assert statuses == [503, 503, 201, 201]
    stats = tms.stats()
    assert stats["idempotency"]["by_key"]["req_flaky"] == {
        "operation": "provision",
        "calls": 4,
        "replays": 1,
    }
    assert (
        len(tms.client.get("/sandbox/tokens", params={"request_id": "req_flaky"}).json()["tokens"])
        == 1
    )


def test_0028_counts_failures_per_key(tms):
    tms.provision("req_flaky_a", PAN["flaky"])
    tms.provision("req_flaky_a", PAN["flaky"])

    assert tms.provision("req_flaky_b", PAN["flaky"]).status_code == 503


def test_0036_is_pending_then_green_by_a_signed_webhook(
    hooked_tms, receiver, webhook_is_signed, wait
):
    response = hooked_tms.provision(
        "req_late", PAN["late"], headers={"X-Correlation-Id": "corr-36"}
    )

    assert response.status_code == 202
    assert response.json() == {"decision": "pending", "token_ref": None}
    delivery = receiver.wait_for(1)[0]
    event = json.loads(delivery["body"])
    assert delivery["path"] == "/webhooks/token-service"
    assert webhook_is_signed(delivery)
    assert delivery["headers"]["X-Correlation-Id"] == "corr-36"
    assert event["id"].startswith("evt_") and isinstance(event["created"], int)
    assert event["type"] == "provisioning.decision"
    assert event["data"]["request_id"] == "req_late"
    assert event["data"]["decision"] == "green" and event["data"]["reason"] is None
    status = hooked_tms.call("GET", "/tms/v2/provisions/req_late").json()
    assert (status["decision"], status["token_ref"]) == ("green", event["data"]["token_ref"])
    assert wait(lambda: hooked_tms.stats()["webhooks"]["sent"] == 1)


def test_0036_status_is_pending_until_the_decision(make_client, make_tms):
    tms = make_tms(make_client(SANDBOX_LATE_DECISION_SECONDS="30"))

    tms.provision("req_late", PAN["late"])

    assert tms.call("GET", "/tms/v2/provisions/req_late").json() == {
        "decision": "pending",
        "token_ref": None,
    }


def test_0036_webhook_is_tried_three_times_then_counted_failed(hooked_tms, receiver, wait):
    receiver.answers.extend([500, 500, 500])

    hooked_tms.provision("req_late", PAN["late"])

    assert len(receiver.wait_for(3)) == 3
    webhooks = wait(lambda: (w := hooked_tms.stats()["webhooks"])["failed"] and w)
    assert webhooks == {"sent": 0, "failed": 1, "attempts": 3}
    bodies = {delivery["body"] for delivery in receiver.received}
    assert len(bodies) == 1  # the same event each time


def test_0036_webhook_succeeds_on_a_retry(hooked_tms, receiver, wait):
    receiver.answers.append(503)

    hooked_tms.provision("req_late", PAN["late"])

    assert wait(lambda: hooked_tms.stats()["webhooks"]["sent"] == 1)
    assert [d["status"] for d in receiver.received] == [503, 200]


def test_0044_hangs_without_blocking_others_then_answers_green(tms, wait):
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        slow = pool.submit(tms.provision, "req_slow", PAN["slow"])
        pending = wait(
            lambda: (r := tms.call("GET", "/tms/v2/provisions/req_slow")).status_code == 200 and r
        )
        assert pending.json()["decision"] == "pending"
        assert tms.client.get("/sandbox/health").status_code == 200
        assert not slow.done()
        response = slow.result(timeout=5)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201
    assert response.json()["decision"] == "green"


def test_0044_retry_while_in_flight_waits_and_replays_with_one_token(tms):
    with ThreadPoolExecutor(max_workers=2) as pool:
        calls = [pool.submit(tms.provision, "req_slow", PAN["slow"]) for _ in range(2)]
        responses = [call.result(timeout=5) for call in calls]

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    stats = tms.stats()["idempotency"]
    assert stats["by_key"]["req_slow"]["replays"] == 1
    assert stats["duplicate_effects"] == 0
    assert len(tms.client.get("/sandbox/tokens").json()["tokens"]) == 1


# JWE and card checks -----------------------------------------------------------------------


def test_garbage_jwe_is_invalid_jwe_and_counted(tms):
    body = {**tms.provision_body("req_jwe"), "encrypted_card": "not.a.jwe.at.all"}

    response = tms.call("POST", "/tms/v2/tokens", body, key="req_jwe")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_jwe"
    assert tms.stats()["jwe_failures"] == 1


@pytest.mark.parametrize(("alg", "enc"), [("RSA-OAEP", "A256GCM"), ("RSA-OAEP-256", "A128GCM")])
def test_jwe_with_another_algorithm_is_refused(tms, alg, enc):
    body = {**tms.provision_body("req_jwe"), "encrypted_card": tms.card_jwe(alg=alg, enc=enc)}

    response = tms.call("POST", "/tms/v2/tokens", body, key="req_jwe")

    assert response.json()["error"]["code"] == "invalid_jwe"


def test_jwe_for_another_key_is_refused(tms):
    stranger = RSAKey.import_key(dev_keys.generate()["token_service_jwe_public_pem"])
    body = {**tms.provision_body("req_jwe"), "encrypted_card": tms.card_jwe(public_key=stranger)}

    response = tms.call("POST", "/tms/v2/tokens", body, key="req_jwe")

    assert response.json()["error"]["code"] == "invalid_jwe"


@pytest.mark.parametrize(
    ("pan", "month", "year"),
    [
        ("4242424242424242", 12, 2030),  # Luhn-valid, but no such card
        ("4111111111111111", 11, 2030),  # right PAN, wrong expiry
        ("4111111111111111", 12, 2031),
    ],
)
def test_card_data_the_issuer_does_not_hold_is_card_mismatch(tms, pan, month, year):
    body = {**tms.provision_body("req_mm"), "encrypted_card": tms.card_jwe(pan, month, year)}

    response = tms.call("POST", "/tms/v2/tokens", body, key="req_mm")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "card_mismatch"
    assert tms.stats()["card_mismatches"] == 1


def test_expiry_may_be_strings_and_a_two_digit_year(tms):
    body = {
        **tms.provision_body("req_str"),
        "encrypted_card": tms.card_jwe(expiry_month="12", expiry_year="30"),
    }

    assert tms.call("POST", "/tms/v2/tokens", body, key="req_str").status_code == 201


def test_a_refused_provision_leaves_the_key_free_for_a_corrected_retry(tms):
    bad = {**tms.provision_body("req_fix"), "encrypted_card": "garbage"}
    assert tms.call("POST", "/tms/v2/tokens", bad, key="req_fix").status_code == 400

    assert tms.provision("req_fix").status_code == 201


# idempotency -------------------------------------------------------------------------------


def test_provision_without_idempotency_key_is_400(tms):
    response = tms.call("POST", "/tms/v2/tokens", tms.provision_body("req_nokey"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_idempotency_key"


def test_repeated_key_replays_the_first_answer_with_no_new_token(tms):
    first = tms.provision("req_once")
    second = tms.provision("req_once")  # a fresh JWE: the bytes differ, the key does not

    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second.headers["Idempotent-Replayed"] == "true"
    stats = tms.stats()["idempotency"]
    assert stats["replayed_keys"] == {"req_once": 1}
    assert stats["by_operation"]["provision"] == {"calls": 2, "replays": 1}
    assert stats["duplicate_effects"] == 0
    assert len(tms.client.get("/sandbox/tokens").json()["tokens"]) == 1


def test_two_keys_for_one_request_id_are_reported(tms):
    tms.provision("req_twice", key="key_a")
    tms.provision("req_twice", key="key_b")

    assert tms.stats()["idempotency"]["request_ids_with_multiple_tokens"] == {"req_twice": 2}


def test_key_reused_for_another_operation_is_422(tms):
    token_ref = tms.provision("req_a").json()["token_ref"]

    response = tms.call("POST", f"/tms/v2/tokens/{token_ref}/suspend", {}, key="req_a")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_status_of_an_unknown_request_is_404(tms):
    response = tms.call("GET", "/tms/v2/provisions/req_never")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_no_pan_in_logs_or_token_service_answers(tms, caplog):
    caplog.set_level(logging.DEBUG)

    answers = [
        tms.provision("req_log", PAN["green"]).text,
        tms.call("GET", "/tms/v2/provisions/req_log").text,
        tms.provision("req_bad", "4242424242424242").text,
        tms.client.get("/sandbox/stats").text,
    ]

    assert all(PAN["green"] not in text and "4242424242424242" not in text for text in answers)
    assert PAN["green"] not in caplog.text
