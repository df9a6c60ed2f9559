"""Issuer host stand-in: eligibility of a card for a wallet, and card data for tokenisation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .auth import admit_bearer
from .cards import PRODUCT
from .errors import SandboxError, read_json_object, require_str
from .state import SandboxState

WALLETS = ("google_pay", "apple_pay", "samsung_pay")
_INELIGIBLE_REASONS = {"blocked": "card_blocked", "expired": "card_expired"}


async def _admit(request: Request, operation: str) -> SandboxState:
    state, _ = await admit_bearer(request, "issuer", operation, lambda c: c.issuer_api_key)
    return state


def _card_not_found() -> SandboxError:
    # Same answer for "unknown" and "someone else's": no probing for other customers' cards.
    return SandboxError(404, "card_not_found", "no such card for this customer")


async def eligibility(request: Request) -> JSONResponse:
    state = await _admit(request, "eligibility")
    payload = await read_json_object(request)
    card_id = require_str(payload, "card_id")
    customer_id = require_str(payload, "customer_id")
    require_str(payload, "device_id")
    if payload.get("wallet") not in WALLETS:
        raise SandboxError(400, "invalid_request", f"wallet must be one of {', '.join(WALLETS)}")
    with state.lock:
        card = state.card_of(card_id, customer_id)
        if card is None:
            raise _card_not_found()
        customer = state.customers[customer_id]
        reason = _INELIGIBLE_REASONS.get(card.status)
        body = {
            "decision": "ineligible" if reason else "eligible",
            "reason": reason,
            "card": {
                "last4": card.last4,
                "expiry_month": card.expiry_month,
                "expiry_year": card.expiry_year,
                "product": PRODUCT,
            },
            "customer": {"msisdn": customer.msisdn, "kyc_tier": customer.kyc_tier},
        }
    return JSONResponse(body)


async def card_data(request: Request) -> JSONResponse:
    state = await _admit(request, "card_data")
    payload = await read_json_object(request)
    customer_id = require_str(payload, "customer_id")
    with state.lock:
        card = state.card_of(request.path_params["card_id"], customer_id)
        if card is None:
            raise _card_not_found()
        # The one answer in the sandbox that carries a PAN: the contract requires it.
        body = {
            "pan": card.pan,
            "expiry_month": card.expiry_month,
            "expiry_year": card.expiry_year,
            "cardholder_name": card.cardholder_name,
        }
    return JSONResponse(body)


routes = [
    Route("/v1/eligibility", eligibility, methods=["POST"]),
    Route("/v1/cards/{card_id}/card-data", card_data, methods=["POST"]),
]
