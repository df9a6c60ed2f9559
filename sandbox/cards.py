"""Sandbox cards: validation of new cards, and the documented default set.

The token service decides by a PAN's last four digits (sandbox/README.md, "Seeded cards"), so every
seeded card is a Luhn-valid Visa PAN whose last four pick its outcome.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import SandboxError

CARD_STATUSES = ("active", "blocked", "expired")
DEFAULT_KYC_TIER = "tier_2"
DEFAULT_CARDHOLDER = "SANDBOX CARDHOLDER"
PRODUCT = "visa_prepaid"

_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/(\d{2})$")
_MSISDN = re.compile(r"^\+\d{8,15}$")


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass
class Customer:
    customer_id: str
    msisdn: str | None
    kyc_tier: str


@dataclass
class Card:
    card_id: str
    customer_id: str
    pan: str
    expiry_month: int
    expiry_year: int  # four digits
    status: str
    cardholder_name: str

    # The PAN must never reach a log line through a dataclass repr.
    def __repr__(self) -> str:
        return f"Card(card_id={self.card_id!r}, last4={self.last4!r}, status={self.status!r})"

    @property
    def last4(self) -> str:
        return self.pan[-4:]

    @property
    def expiry(self) -> str:
        return f"{self.expiry_month:02d}/{self.expiry_year % 100:02d}"

    def public(self) -> dict[str, Any]:
        return {
            "card_id": self.card_id,
            "customer_id": self.customer_id,
            "last4": self.last4,
            "expiry": self.expiry,
            "status": self.status,
            "cardholder_name": self.cardholder_name,
        }


def parse_new_card(payload: dict[str, Any]) -> tuple[Card, dict[str, str | None]]:
    """Validate a POST /sandbox/cards body; return the card and customer attributes."""
    customer_id = payload.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        raise SandboxError(400, "invalid_customer_id", "customer_id is required")
    pan = payload.get("pan")
    if not isinstance(pan, str) or not pan.isdigit() or not 13 <= len(pan) <= 19:
        raise SandboxError(400, "invalid_pan", "pan must be 13 to 19 digits")
    if not luhn_valid(pan):
        raise SandboxError(400, "invalid_pan", "pan fails the Luhn check")
    expiry = payload.get("expiry")
    match = _EXPIRY.match(expiry) if isinstance(expiry, str) else None
    if not match:
        raise SandboxError(400, "invalid_expiry", "expiry must be MM/YY")
    status = payload.get("status", "active")
    if status not in CARD_STATUSES:
        raise SandboxError(
            400, "invalid_status", f"status must be one of {', '.join(CARD_STATUSES)}"
        )
    name = payload.get("cardholder_name") or DEFAULT_CARDHOLDER
    if not isinstance(name, str):
        raise SandboxError(400, "invalid_cardholder_name", "cardholder_name must be a string")
    msisdn = payload.get("msisdn")
    if msisdn is not None and (not isinstance(msisdn, str) or not _MSISDN.match(msisdn)):
        raise SandboxError(400, "invalid_msisdn", "msisdn must be E.164, e.g. +254700000100")
    kyc_tier = payload.get("kyc_tier")
    if kyc_tier is not None and not isinstance(kyc_tier, str):
        raise SandboxError(400, "invalid_kyc_tier", "kyc_tier must be a string")
    card_id = payload.get("card_id") or "card_" + secrets.token_hex(6)
    if not isinstance(card_id, str):
        raise SandboxError(400, "invalid_card_id", "card_id must be a string")
    card = Card(
        card_id=card_id,
        customer_id=customer_id,
        pan=pan,
        expiry_month=int(match.group(1)),
        expiry_year=2000 + int(match.group(2)),
        status=status,
        cardholder_name=name,
    )
    return card, {"msisdn": msisdn, "kyc_tier": kyc_tier}


DEFAULT_CUSTOMERS = (
    Customer("cust_demo", "+254700000100", DEFAULT_KYC_TIER),
    Customer("cust_other", "+254700000200", DEFAULT_KYC_TIER),
)

# card id, customer, PAN, expiry, status, name. Middle digits are chosen so that the
# given last four (check digit included) pass Luhn; tests/sandbox assert it.
DEFAULT_CARDS = tuple(
    Card(card_id, customer, pan, int(expiry[:2]), 2000 + int(expiry[3:]), status, name)
    for card_id, customer, pan, expiry, status, name in (
        ("card_green", "cust_demo", "4111111111111111", "12/30", "active", "AMINA WANJIRU"),
        ("card_declined", "cust_demo", "4000000000000002", "12/30", "active", "AMINA WANJIRU"),
        ("card_stepup", "cust_demo", "4000000000000010", "12/30", "active", "AMINA WANJIRU"),
        ("card_flaky", "cust_demo", "4000000000000028", "12/30", "active", "AMINA WANJIRU"),
        ("card_late", "cust_demo", "4000000000000036", "12/30", "active", "AMINA WANJIRU"),
        ("card_slow", "cust_demo", "4000000000000044", "12/30", "active", "AMINA WANJIRU"),
        ("card_blocked", "cust_demo", "4000000000000069", "12/30", "blocked", "AMINA WANJIRU"),
        ("card_expired", "cust_demo", "4000000000000077", "01/24", "expired", "AMINA WANJIRU"),
        ("card_other", "cust_other", "4000000000000085", "12/30", "active", "BRIAN OTIENO"),
    )
)
