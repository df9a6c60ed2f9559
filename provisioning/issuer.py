"""Client of the issuer host: eligibility of card + customer + wallet, and card data.

Card data (the PAN) comes back in memory only: the caller hands it straight to the
JWE encryption and drops it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.outside.client import OutsideClient
from core.outside.errors import PermanentError
from core.outside.transport import Response

SYSTEM = "issuer"


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str
    card_last4: str
    card_product: str
    customer_msisdn: str
    kyc_tier: int | None


@dataclass(frozen=True)
class CardData:
    pan: str = field(repr=False)
    expiry_month: str = field(repr=False)
    expiry_year: str = field(repr=False)
    cardholder_name: str = field(repr=False)

    def as_jwe_payload(self) -> dict[str, str]:
        return {
            "pan": self.pan,
            "expiry_month": self.expiry_month,
            "expiry_year": self.expiry_year,
            "cardholder_name": self.cardholder_name,
        }


class IssuerClient(OutsideClient):
    system = SYSTEM

    def check_eligibility(self, *, card_id: str, customer_id: str, wallet: str,
                          device_id: str) -> Eligibility:
        body = {"card_id": card_id, "customer_id": customer_id, "wallet": wallet,
                "device_id": device_id}
        reply = self._post("eligibility", "/v1/eligibility", body)
        data = reply.body
        decision = data.get("decision")
        if decision not in {"eligible", "ineligible"}:
            raise PermanentError("issuer_bad_response", "no eligibility decision", system=SYSTEM)
        card = data.get("card") or {}
        customer = data.get("customer") or {}
        return Eligibility(
            eligible=decision == "eligible",
            reason=str(data.get("reason") or ("" if decision == "eligible" else "issuer_ineligible")),
            card_last4=str(card.get("last4") or "")[:4],
            card_product=str(card.get("product") or "")[:32],
            customer_msisdn=str(customer.get("msisdn") or "")[:20],
            kyc_tier=customer.get("kyc_tier"),
        )

    def card_data(self, *, card_id: str, customer_id: str) -> CardData:
        reply = self._post("card_data", f"/v1/cards/{card_id}/card-data",
                           {"customer_id": customer_id})
        data = reply.body
        try:
            return CardData(
                pan=str(data["pan"]),
                expiry_month=str(data["expiry_month"]),
                expiry_year=str(data["expiry_year"]),
                cardholder_name=str(data.get("cardholder_name") or ""),
            )
        except KeyError:
            raise PermanentError("issuer_bad_response", "card data incomplete", system=SYSTEM) from None

    def _post(self, operation: str, path: str, body: dict) -> Response:
        return self.call(operation, "POST", path,
                         body=json.dumps(body, separators=(",", ":")).encode())
