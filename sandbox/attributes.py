"""Funds-transfer attributes inquiry stand-in (Visa PAAI shaped): what a recipient card
can take before any money is sent to it.

`POST /paai/fundstransferattinq/v5/cardattributes/fundstransferinquiry` as Visa's v5 API,
except that the PAN travels as a JWE (`encryptedCard`, the token service's key and
plaintext) instead of `primaryAccountNumber` in clear, and that the call is signed with
the merchant's CyberSource HTTP Signature. The answer follows the PAN (recipients.py).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import recipients
from .errors import SandboxError, parse_json_object
from .signed import admit_signed

SYSTEM = "paai"
_DIGITS = {"systemsTraceAuditNumber": 6, "retrievalReferenceNumber": 12}


def _flag(value: bool) -> str:
    return "Y" if value else "N"


async def funds_transfer_inquiry(request: Request) -> JSONResponse:
    state, raw, _ = await admit_signed(request, SYSTEM, "funds_transfer_inquiry")
    payload = parse_json_object(raw)
    if "primaryAccountNumber" in payload:
        # Refused outright: this contract never lets a PAN travel in clear.
        raise SandboxError(
            400, "invalid_request", "send the card as encryptedCard (JWE), never in clear"
        )
    for name, length in _DIGITS.items():
        value = payload.get(name)
        if not isinstance(value, str) or not re.fullmatch(rf"\d{{{length}}}", value):
            raise SandboxError(
                400, "invalid_request", f"{name} must be a string of {length} digits"
            )
    token = payload.get("encryptedCard")
    if not isinstance(token, str) or not token:
        raise SandboxError(400, "invalid_request", "encryptedCard (a JWE) is required")
    card = recipients.decrypt(state, SYSTEM, token)
    pan = card.pan
    issuer = recipients.issuer_of(pan)
    push, fast = recipients.can_receive(pan), recipients.has_fast_funds(pan)
    with state.lock:
        outcome = "cannot_receive" if not push else "fast_funds" if fast else "no_fast_funds"
        state.visa_direct.attribute_answers[outcome] += 1
    info = {
        "cardProductType": issuer.product,
        "billingCurrency": issuer.currency,
        "billingCurrencyCodeMinorDigits": "2",
        "issuerName": issuer.name,
        "issuerCountryCode": issuer.country,
        # The sandbox answers domestic and cross-border alike.
        "moneyTransferPushFundsDomestic": _flag(push),
        "moneyTransferPushFundsCrossBorder": _flag(push),
        "moneyTransferFastFundsDomestic": _flag(fast),
        "moneyTransferFastFundsCrossBorder": _flag(fast),
    }
    return JSONResponse({"visaNetworkInfo": [info]})


routes = [
    Route(
        "/fundstransferattinq/v5/cardattributes/fundstransferinquiry",
        funds_transfer_inquiry,
        methods=["POST"],
    )
]
