"""Funds-transfer attributes inquiry (Visa PAAI shaped): can a recipient card take push
payments, fast funds, card type, issuer country and billing currency; PAN only as a JWE."""

from __future__ import annotations

import pytest

pytestmark = []

PATH = "/paai/fundstransferattinq/v5/cardattributes/fundstransferinquiry"


def _info(response):
    assert response.status_code == 200, response.text
    (info,) = response.json()["visaNetworkInfo"]
    return info


def test_an_ordinary_card_receives_push_payments_with_fast_funds(vd, recipient_pans):
    info = _info(vd.attributes(recipient_pans["green"]))

    assert info == {
        "cardProductType": "D",
        "billingCurrency": 404,
        "billingCurrencyCodeMinorDigits": "2",
        "issuerName": "SANDBOX BANK KENYA",
        "issuerCountryCode": 404,
        "moneyTransferPushFundsDomestic": "Y",
        "moneyTransferPushFundsCrossBorder": "Y",
        "moneyTransferFastFundsDomestic": "Y",
        "moneyTransferFastFundsCrossBorder": "Y",
    }


def test_a_card_ending_0051_cannot_receive_push_payments(vd, recipient_pans):
    info = _info(vd.attributes(recipient_pans["cannot_receive"]))

    assert info["moneyTransferPushFundsDomestic"] == "N"
    assert info["moneyTransferPushFundsCrossBorder"] == "N"
    assert info["moneyTransferFastFundsDomestic"] == "N"


def test_a_card_ending_0077_receives_without_fast_funds(vd, recipient_pans):
    info = _info(vd.attributes(recipient_pans["no_fast_funds"]))

    assert info["moneyTransferPushFundsDomestic"] == "Y"
    assert info["moneyTransferFastFundsDomestic"] == "N"
    assert info["moneyTransferFastFundsCrossBorder"] == "N"


@pytest.mark.parametrize(
    ("prefix", "product", "country", "currency"),
    [
        ("411111", "C", 404, 404),
        ("403501", "P", 404, 404),
        ("476173", "D", 840, 840),
        ("400000", "D", 404, 404),
    ],
)
def test_card_type_country_and_currency_follow_the_bin(
    vd, make_pan, prefix, product, country, currency
):
    info = _info(vd.attributes(make_pan(prefix, "1234")))

    assert (info["cardProductType"], info["issuerCountryCode"], info["billingCurrency"]) == (
        product,
        country,
        currency,
    )


def test_the_answer_never_carries_the_pan(vd, recipient_pans):
    response = vd.attributes(recipient_pans["green"])

    assert recipient_pans["green"] not in response.text
    assert recipient_pans["green"] not in vd.client.get("/sandbox/stats").text


def test_an_unsigned_inquiry_is_401_and_counted(vd, recipient_pans):
    body = {
        "systemsTraceAuditNumber": "451018",
        "retrievalReferenceNumber": "412770452025",
        "encryptedCard": vd.recipient_jwe(recipient_pans["green"]),
    }

    response = vd.client.post(PATH, json=body)

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "missing_signature"
    assert vd.stats()["signature_failures_by_system"] == {"paai": 1}


def test_a_wrong_secret_is_401(vd, recipient_pans):
    body = {
        "systemsTraceAuditNumber": "451018",
        "retrievalReferenceNumber": "412770452025",
        "encryptedCard": vd.recipient_jwe(recipient_pans["green"]),
    }

    response = vd.signed.call("POST", PATH, body, secret=b"not the shared secret")

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "signature_mismatch"


def test_a_card_that_does_not_decrypt_is_400_and_counted(vd):
    response = vd.attributes(encryptedCard="not.a.jwe.at.all")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_jwe"
    stats = vd.stats()
    assert stats["jwe_failures_by_system"] == {"paai": 1}
    assert stats["paai"]["jwe_failures"] == 1


def test_a_clear_pan_instead_of_a_jwe_is_refused(vd, recipient_pans):
    response = vd.attributes(primaryAccountNumber=recipient_pans["green"])

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert recipient_pans["green"] not in response.text


def test_a_pan_that_fails_luhn_is_400(vd):
    response = vd.attributes("4000000000000001")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_card"


@pytest.mark.parametrize(
    "body",
    [
        {"systemsTraceAuditNumber": "45101"},
        {"systemsTraceAuditNumber": 451018},
        {"retrievalReferenceNumber": "41277045202x"},
        {"retrievalReferenceNumber": None},
    ],
)
def test_trace_numbers_are_checked(vd, recipient_pans, body):
    response = vd.attributes(recipient_pans["green"], **body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_an_injected_error_is_503(vd, recipient_pans):
    vd.client.post("/sandbox/faults", json={"system": "paai", "error_rate": 1})

    response = vd.attributes(recipient_pans["green"])

    assert response.status_code == 503
    assert vd.stats()["faults"]["injected_errors"] == {"paai": 1}


def test_inquiries_are_counted_by_outcome(vd, recipient_pans):
    vd.attributes(recipient_pans["green"])
    vd.attributes(recipient_pans["cannot_receive"])
    vd.attributes(recipient_pans["no_fast_funds"])

    stats = vd.stats()

    assert stats["calls"]["paai"] == {"funds_transfer_inquiry": 3}
    assert stats["paai"]["answers"] == {"fast_funds": 1, "cannot_receive": 1, "no_fast_funds": 1}
