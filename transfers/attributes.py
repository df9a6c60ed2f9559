"""Client of the funds-transfer attributes inquiry (Visa PAAI shaped): can this card take
push payments, with fast funds or not, and where and in what currency is it issued.

A read: retried freely. The card travels as a JWE; Visa codes countries and currencies
by ISO number, turned here into the alpha codes the payout and the API use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from core.outside.client import OutsideClient
from core.outside.errors import PermanentError

from .signed import encrypt_recipient_card, send_signed

SYSTEM = "attributes"
PATH = "/fundstransferattinq/v5/cardattributes/fundstransferinquiry"
KENYA = 404
# ISO 3166 numeric -> alpha-2 and ISO 4217 numeric -> alpha for the region we pay into;
# a card issued elsewhere is refused as one we cannot send to (`card_cannot_receive`).
COUNTRIES = {404: "KE", 800: "UG", 834: "TZ", 646: "RW", 840: "US"}
CURRENCIES = {404: "KES", 800: "UGX", 834: "TZS", 646: "RWF", 840: "USD"}


@dataclass(frozen=True)
class CardAttributes:
    push_enabled: bool
    fast_funds: bool
    country: str
    currency: str
    card_product: str
    issuer_name: str


class AttributesClient(OutsideClient):
    """Base URL, session and timeouts from the registry entry; calls signed (signed.py)."""

    system = SYSTEM

    def inquire(self, pan: str) -> CardAttributes:
        body = {
            "systemsTraceAuditNumber": f"{secrets.randbelow(10**6):06d}",
            "retrievalReferenceNumber": f"{secrets.randbelow(10**12):012d}",
            "encryptedCard": encrypt_recipient_card(pan),
        }
        reply = send_signed(self, operation="funds_transfer_inquiry", method="POST", path=PATH,
                            body=body)
        infos = reply.body.get("visaNetworkInfo")
        if not isinstance(infos, list) or not infos or not isinstance(infos[0], dict):
            raise PermanentError("attributes_bad_response", "no visaNetworkInfo", system=SYSTEM)
        info = infos[0]
        country_code = info.get("issuerCountryCode")
        domestic = country_code == KENYA
        route = "Domestic" if domestic else "CrossBorder"
        country = COUNTRIES.get(country_code, "")
        return CardAttributes(
            push_enabled=info.get(f"moneyTransferPushFunds{route}") == "Y" and bool(country),
            fast_funds=info.get(f"moneyTransferFastFunds{route}") == "Y",
            country=country,
            currency=CURRENCIES.get(info.get("billingCurrency"), ""),
            card_product=str(info.get("cardProductType") or "")[:1],
            issuer_name=str(info.get("issuerName") or "")[:64],
        )
