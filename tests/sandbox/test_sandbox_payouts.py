"""CyberSource Payouts stand-in (`/pts/v2/payouts`): outcomes by the recipient card,
idempotency by clientReferenceInformation.code, validation. Status reads are in
test_sandbox_payout_status.py, faults in test_sandbox_payout_faults.py."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = []


def test_an_approved_payout_answers_in_cybersource_shape(vd):
    response = vd.payout("tr_1", amount="1500.00")

    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"\d{22}", body["id"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["submitTimeUtc"])
    assert body["status"] == "ACCEPTED"
    assert body["clientReferenceInformation"] == {"code": "tr_1"}
    assert body["reconciliationId"] == "rectr_1"
    assert body["orderInformation"] == {
        "amountDetails": {"totalAmount": "1500.00", "currency": "KES"}
    }
    processor = body["processorInformation"]
    assert re.fullmatch(r"\d{6}", processor["approvalCode"])
    assert processor["responseCode"] == "00"
    assert re.fullmatch(r"\d{15}", processor["transactionId"])
    assert "errorInformation" not in body


def test_a_card_ending_0002_is_declined_with_a_reason(vd, recipient_pans):
    response = vd.payout("tr_2", recipient_pans["declined"])

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "DECLINED"
    assert body["errorInformation"]["reason"] == "PROCESSOR_DECLINED"
    assert body["errorInformation"]["message"]
    assert body["processorInformation"]["responseCode"] == "05"
    assert "approvalCode" not in body["processorInformation"]
    assert vd.stats()["payouts"]["outcomes"] == {"ACCEPTED": 0, "DECLINED": 1, "PENDING": 0}


def test_a_card_ending_0028_is_503_twice_then_approved_under_the_same_code(vd, recipient_pans):
    statuses = [vd.payout("tr_3", recipient_pans["flaky"]).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    payouts = vd.stats()["payouts"]
    assert payouts["made"] == 1
    assert payouts["outcomes"]["ACCEPTED"] == 1


def test_after_a_503_the_code_is_not_found(vd, recipient_pans):
    vd.payout("tr_3", recipient_pans["flaky"])

    found = vd.search("tr_3").json()

    assert (found["count"], found["totalCount"]) == (0, 0)
    assert "_embedded" not in found


def test_a_card_ending_0036_is_pending_then_approved_when_asked_a_moment_later(
    make_client, make_vd, recipient_pans, wait
):
    vd = make_vd(make_client(SANDBOX_PAYOUT_PENDING_SECONDS="0.2"))

    response = vd.payout("tr_4", recipient_pans["pending"])

    assert response.status_code == 201
    assert response.json()["status"] == "PENDING"
    assert "approvalCode" not in response.json()["processorInformation"]
    assert vd.status_of("tr_4") == "PENDING"
    assert wait(lambda: vd.status_of("tr_4") == "ACCEPTED", timeout=3)
    details = vd.transaction(response.json()["id"]).json()
    assert details["status"] == "ACCEPTED"
    assert re.fullmatch(r"\d{6}", details["processorInformation"]["approvalCode"])


def test_a_card_ending_0044_never_answers_in_time_yet_pays(vd, recipient_pans, wait):
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        slow = pool.submit(vd.payout, "tr_5", recipient_pans["slow"])
        assert wait(lambda: vd.status_of("tr_5") == "ACCEPTED")
        assert not slow.done()
        response = slow.result(timeout=5)

    assert time.monotonic() - started >= 0.3  # SANDBOX_SLOW_SECONDS in the fixtures
    assert response.json()["status"] == "ACCEPTED"
    assert vd.stats()["payouts"]["made"] == 1


def test_a_repeat_of_a_0044_card_hangs_too_and_pays_nothing_more(vd, recipient_pans):
    vd.payout("tr_5", recipient_pans["slow"])

    started = time.monotonic()
    again = vd.payout("tr_5", recipient_pans["slow"])

    assert time.monotonic() - started >= 0.3
    assert again.headers["Idempotent-Replayed"] == "true"
    assert vd.stats()["payouts"]["made"] == 1


def test_a_card_ending_0077_is_approved(vd, recipient_pans):
    response = vd.payout("tr_6", recipient_pans["no_fast_funds"])

    assert response.json()["status"] == "ACCEPTED"


def test_a_payout_to_a_card_that_cannot_receive_is_declined_and_counted(vd, recipient_pans):
    response = vd.payout("tr_7", recipient_pans["cannot_receive"])

    body = response.json()
    assert body["status"] == "DECLINED"
    assert body["errorInformation"]["reason"] == "INVALID_ACCOUNT"
    assert vd.stats()["payouts"]["sent_to_cards_that_cannot_receive"] == 1


def test_a_repeat_with_the_same_code_replays_and_pays_once(vd):
    first = vd.payout("tr_8")

    again = vd.payout("tr_8")  # a new JWE of the same card, as a real retry sends

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    payouts = vd.stats()["payouts"]
    assert (payouts["made"], payouts["replays"], payouts["duplicate_effects"]) == (1, 1, 0)
    assert payouts["by_code"]["tr_8"] == {"calls": 2, "replays": 1, "status": "ACCEPTED"}


def test_concurrent_sends_of_one_code_pay_once(vd):
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: vd.payout("tr_9").json()["id"], range(4)))

    assert len(set(answers)) == 1
    assert vd.stats()["payouts"]["made"] == 1


@pytest.mark.parametrize("change", ["amount", "card"])
def test_the_same_code_for_another_payout_is_422_and_pays_nothing(vd, make_pan, change):
    vd.payout("tr_10", "4000000000000093", amount="1500.00")
    pan = make_pan("400000", "0101") if change == "card" else "4000000000000093"
    amount = "1600.00" if change == "amount" else "1500.00"

    response = vd.payout("tr_10", pan, amount=amount)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert vd.stats()["payouts"]["made"] == 1


def _without(body, path):
    *parents, leaf = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    del node[leaf]
    return body


def _with(body, path, value):
    *parents, leaf = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    node[leaf] = value
    return body


@pytest.mark.parametrize(
    "field",
    [
        "clientReferenceInformation.code",
        "orderInformation.amountDetails.totalAmount",
        "orderInformation.amountDetails.currency",
        "senderInformation.name",
        "senderInformation.referenceNumber",
        "senderInformation.account.fundsSource",
        "recipientInformation.firstName",
        "recipientInformation.country",
        "processingInformation.businessApplicationId",
        "paymentInformation.card.encryptedCard",
    ],
)
def test_a_missing_field_is_400_naming_it(vd, field):
    body = _without(vd.payout_body("tr_11"), field)

    response = vd.send_payout(body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"] == {"field": field}
    assert vd.stats()["payouts"]["made"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orderInformation.amountDetails.totalAmount", "15.001"),
        ("orderInformation.amountDetails.totalAmount", "0.00"),
        ("orderInformation.amountDetails.totalAmount", "-5.00"),
        ("orderInformation.amountDetails.totalAmount", 1500.0),
        ("orderInformation.amountDetails.totalAmount", "1e3"),
        ("orderInformation.amountDetails.totalAmount", "1234567890123.00"),
        ("orderInformation.amountDetails.currency", "USD"),
        ("senderInformation.account.fundsSource", "09"),
        ("processingInformation.businessApplicationId", "FD"),
        ("recipientInformation.country", "Kenya"),
        ("recipientInformation.firstName", "JANE\u0007"),
        ("clientReferenceInformation.code", "x" * 51),
        ("processingInformation.reconciliationId", "r" * 26),
    ],
)
def test_a_bad_field_is_400_naming_it(vd, field, value):
    body = _with(vd.payout_body("tr_12"), field, value)

    response = vd.send_payout(body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"] == {"field": field}
    assert vd.stats()["payouts"]["made"] == 0


def test_an_unsigned_payout_is_401_and_pays_nothing(vd):
    response = vd.client.post("/pts/v2/payouts", json=vd.payout_body("tr_13"))

    assert response.status_code == 401
    stats = vd.stats()
    assert stats["payouts"]["made"] == 0
    assert stats["signature_failures_by_system"] == {"payouts": 1}
    assert stats["payouts"]["signature_failures"] == 1


def test_a_body_changed_after_signing_is_401(vd):
    body = vd.payout_body("tr_14")
    signed_for = vd.payout_body("tr_14", amount="1.00")
    raw = json.dumps(body).encode()
    headers = vd.signed.signer.headers("POST", "/pts/v2/payouts", json.dumps(signed_for).encode())
    response = vd.client.post("/pts/v2/payouts", content=raw, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "digest_mismatch"
    assert vd.stats()["payouts"]["made"] == 0


def test_a_card_that_does_not_decrypt_is_400_and_counted(vd):
    body = _with(vd.payout_body("tr_15"), "paymentInformation.card.encryptedCard", "garbage")

    response = vd.send_payout(body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_jwe"
    assert vd.stats()["jwe_failures_by_system"] == {"payouts": 1}


def test_a_pan_that_fails_luhn_is_400(vd):
    response = vd.payout("tr_16", "4000000000000001")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_card"
    assert vd.stats()["payouts"]["made"] == 0


def test_no_answer_and_no_stat_carries_the_pan(vd, recipient_pans):
    pan = recipient_pans["green"]
    texts = [
        vd.payout("tr_17", pan).text,
        vd.search("tr_17").text,
        vd.client.get("/sandbox/stats").text,
    ]
    texts.append(vd.transaction(vd.payout("tr_17", pan).json()["id"]).text)

    assert all(pan not in text for text in texts)


# status reads ------------------------------------------------------------------------
