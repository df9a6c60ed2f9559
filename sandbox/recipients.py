"""Recipient cards of Visa Direct: what the network says of a card, by its BIN and last four.

The attributes inquiry and the payouts decide by the PAN's last four digits (the table in
sandbox/README.md, "Recipient cards"); card type, issuer country and billing currency
come from the BIN, as a real network's card ranges do. Any Luhn-valid PAN is a card.
"""

from __future__ import annotations

from dataclasses import dataclass

from .card_decryption import CardDecryptionError, RecipientCard, decrypt_recipient_card
from .cards import luhn_valid
from .errors import SandboxError
from .state import SandboxState

CANNOT_RECEIVE = "0051"
DECLINED = "0002"
FLAKY = "0028"  # payout: 503 on the first two calls of a code, then approved
PENDING = "0036"  # payout: pending, approved SANDBOX_PAYOUT_PENDING_SECONDS later
SLOW = "0044"  # payout: made at once, answered only after SANDBOX_SLOW_SECONDS
NO_FAST_FUNDS = "0077"
FLAKY_FAILURES = 2

KENYA = 404  # ISO 3166 numeric; Visa's inquiry codes countries and currencies by number
KES = 404  # ISO 4217 numeric
USA = 840
USD = 840


@dataclass(frozen=True)
class Issuer:
    product: str  # Visa's card product type: D debit, C credit, P prepaid
    country: int
    currency: int
    name: str


_KENYAN_DEBIT = Issuer("D", KENYA, KES, "SANDBOX BANK KENYA")
ISSUERS_BY_BIN = {
    "411111": Issuer("C", KENYA, KES, "SANDBOX BANK KENYA"),
    "403501": Issuer("P", KENYA, KES, "SANDBOX PREPAID KENYA"),
    "476173": Issuer("D", USA, USD, "SANDBOX BANK USA"),
}


def issuer_of(pan: str) -> Issuer:
    return ISSUERS_BY_BIN.get(pan[:6], _KENYAN_DEBIT)


def can_receive(pan: str) -> bool:
    return not pan.endswith(CANNOT_RECEIVE)


def has_fast_funds(pan: str) -> bool:
    return can_receive(pan) and not pan.endswith(NO_FAST_FUNDS)


def decrypt(state: SandboxState, system: str, token: str) -> RecipientCard:
    """Decrypt a recipient card JWE and check its number; refusals are counted per system.

    There is no issuer record of a recipient card to match: any Luhn-valid PAN is a card.
    """
    try:
        card = decrypt_recipient_card(token, state.config.credentials.jwe_private_key)
    except CardDecryptionError as exc:
        state.count_jwe_failure(system)
        raise SandboxError(400, "invalid_jwe", str(exc)) from None
    if not 13 <= len(card.pan) <= 19 or not luhn_valid(card.pan):
        raise SandboxError(400, "invalid_card", "card number is not a valid card number")
    return card
