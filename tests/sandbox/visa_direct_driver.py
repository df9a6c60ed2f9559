"""The Visa Direct stand-ins' driver for the sandbox tests (handed out by conftest.py's
fixtures), and the recipient cards by outcome."""

from __future__ import annotations

import json
from typing import Any

import httpx
from joserfc import jwe

from .drivers import Signer, TestClient, TokenServiceDriver

# Recipient cards by the outcome their last four pick (sandbox/README.md, "Recipient cards").
RECIPIENT_PANS = {
    "green": "4000000000000093",
    "cannot_receive": "4000000000000051",
    "declined": "4000000000000002",
    "flaky": "4000000000000028",
    "pending": "4000000000000036",
    "slow": "4000000000000044",
    "no_fast_funds": "4000000000000077",
}

# A valid M-Pesa hold of KES 10.00 for cust_demo (the tests change one field at a time).
VALID_HOLD = {
    "customer_id": "cust_demo",
    "amount": 1000,
    "fee": 0,
    "currency": "KES",
    "reference": "r",
}


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def pan_with(prefix: str, last4: str, length: int = 16) -> str:
    """A Luhn-valid PAN with this prefix and last four: one middle digit is chosen to fit."""
    middle = ["0"] * (length - len(prefix) - len(last4))
    for digit in "0123456789":
        middle[-1] = digit
        pan = prefix + "".join(middle) + last4
        if luhn_ok(pan):
            return pan
    raise AssertionError("no middle digit makes this PAN Luhn-valid")


class VisaDirectDriver:
    """Calls to the Visa Direct stand-ins of one sandbox: signed CyberSource-style calls
    (payouts, transaction search, reporting, attributes) and bearer calls (M-Pesa,
    screening), with recipient-card JWEs."""

    def __init__(self, client: TestClient, signer: Signer, keys: dict[str, Any]) -> None:
        self.client = client
        self.keys = keys
        self.signed = TokenServiceDriver(client, signer, keys)

    # card JWE --------------------------------------------------------------------------

    def recipient_jwe(self, pan: str, **claims: Any) -> str:
        plaintext = json.dumps({"pan": pan, "cardholder_name": "JANE WANJIKU", **claims})
        registry = jwe.JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM"])
        return jwe.encrypt_compact(
            {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
            plaintext,
            self.signed.public_key,
            registry=registry,
        )

    # attributes inquiry ----------------------------------------------------------------

    def attributes(self, pan: str | None = None, **body: Any) -> httpx.Response:
        payload: dict[str, Any] = {
            "systemsTraceAuditNumber": "451018",
            "retrievalReferenceNumber": "412770452025",
        }
        if pan is not None:
            payload["encryptedCard"] = self.recipient_jwe(pan)
        payload.update(body)
        return self.signed.call(
            "POST", "/paai/fundstransferattinq/v5/cardattributes/fundstransferinquiry", payload
        )

    # payouts ---------------------------------------------------------------------------

    def payout_body(
        self, code: str, pan: str = RECIPIENT_PANS["green"], amount: str = "1500.00", **parts: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "clientReferenceInformation": {"code": code},
            "orderInformation": {"amountDetails": {"totalAmount": amount, "currency": "KES"}},
            "senderInformation": {
                "name": "AMINA WANJIRU",
                "referenceNumber": "cust_demo",
                "account": {"fundsSource": "05"},
            },
            "recipientInformation": {"firstName": "JANE", "lastName": "WANJIKU", "country": "KE"},
            "processingInformation": {
                "businessApplicationId": "PP",
                "reconciliationId": "rec" + code[-8:],
                "payoutsOptions": {},
            },
            "paymentInformation": {
                "card": {"type": "001", "encryptedCard": self.recipient_jwe(pan)}
            },
        }
        body.update(parts)
        return body

    def payout(
        self, code: str, pan: str = RECIPIENT_PANS["green"], amount: str = "1500.00", **parts: Any
    ) -> httpx.Response:
        return self.send_payout(self.payout_body(code, pan, amount, **parts))

    def send_payout(self, body: dict[str, Any], **sign: Any) -> httpx.Response:
        return self.signed.call("POST", "/pts/v2/payouts", body, **sign)

    def search(self, code: str, **body: Any) -> httpx.Response:
        payload = {"query": f"clientReferenceInformation.code:{code}", **body}
        return self.signed.call("POST", "/tss/v2/searches", payload)

    def transaction(self, transaction_id: str) -> httpx.Response:
        return self.signed.call("GET", f"/tss/v2/transactions/{transaction_id}")

    def status_of(self, code: str) -> str | None:
        """The network's status for a code, as a service asking after a lost answer sees it."""
        found = self.search(code).json()
        if found["totalCount"] == 0:
            return None
        return found["_embedded"]["transactionSummaries"][0]["applicationInformation"]["status"]

    # settlement report -----------------------------------------------------------------

    def report(self, day: str, name: str = "PayoutSettlementDetailReport") -> httpx.Response:
        return self.signed.call(
            "GET", f"/reporting/v3/report-downloads?reportDate={day}&reportName={name}"
        )

    # M-Pesa ledger ---------------------------------------------------------------------

    def mpesa(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, key: str | None = None,
        api_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {api_key or self.keys['mpesa_api_key']}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.request(method, f"/mpesa{path}", json=body, headers=headers)

    def hold(
        self, key: str, *, customer_id: str = "cust_demo", amount: int = 150_000, fee: int = 2_500,
        reference: str | None = None, currency: str = "KES",
    ) -> httpx.Response:
        body = {
            "customer_id": customer_id,
            "amount": amount,
            "fee": fee,
            "currency": currency,
            "reference": reference or key,
        }
        return self.mpesa("POST", "/v1/holds", body, key=key)

    def capture(self, hold_id: str, key: str) -> httpx.Response:
        return self.mpesa("POST", f"/v1/holds/{hold_id}/capture", {}, key=key)

    def release(self, hold_id: str, key: str) -> httpx.Response:
        return self.mpesa("POST", f"/v1/holds/{hold_id}/release", {}, key=key)

    def set_balance(self, customer_id: str, balance: int) -> httpx.Response:
        return self.client.post(
            "/sandbox/mpesa/accounts", json={"customer_id": customer_id, "balance": balance}
        )

    def account(self, customer_id: str) -> dict[str, Any]:
        response = self.client.get(f"/sandbox/mpesa/accounts/{customer_id}")
        assert response.status_code == 200, response.text
        return response.json()

    # screening -------------------------------------------------------------------------

    def screen(self, name: str, country: str = "KE", **body: Any) -> httpx.Response:
        return self.client.post(
            "/screening/v1/screenings",
            json={"name": name, "country": country, **body},
            headers={"Authorization": f"Bearer {self.keys['screening_api_key']}"},
        )

    def stats(self) -> dict[str, Any]:
        return self.client.get("/sandbox/stats").json()
