"""CyberSource Payouts stand-in: the OCT (`POST /pts/v2/payouts`) and its status reads
(Transaction Search `POST /tss/v2/searches`, Transaction Details `GET /tss/v2/transactions/{id}`).

The request is CyberSource's OctCreatePaymentRequest as its REST SDK models it, except
that the card travels as a JWE (`paymentInformation.card.encryptedCard`). Every call
carries the merchant's HTTP Signature. `clientReferenceInformation.code` is the
idempotency key: a repeat of a code never pays twice, it replays the first answer. The
outcome is taken by the recipient PAN's last four (recipients.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import recipients
from .card_decryption import RecipientCard
from .errors import SandboxError, parse_json_object
from .faults import lose_answer
from .idempotency import fingerprint_of, run_idempotent
from .signed import admit_signed
from .state import IdempotencyRecord, SandboxState
from .visa_direct_state import CURRENCY, MINOR_PER_MAJOR, Payout, render_amount

SYSTEM = "payouts"
BUSINESS_APPLICATIONS = ("PP", "AA")  # person to person; account to account (own card)
FUNDS_SOURCES = ("01", "02", "03", "04", "05", "06")
MAX_CODE_LENGTH = 50  # CyberSource's limit for clientReferenceInformation.code
MAX_RECONCILIATION_ID_LENGTH = 25
MAX_NAME_LENGTH = 60
# CyberSource renders amounts as decimal strings; at most 12 digits before the point.
_AMOUNT = re.compile(r"^(0|[1-9]\d{0,11})(\.\d{1,2})?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# The only query the sandbox's Transaction Search understands (the time window is accepted
# and ignored: every payout of this sandbox's life is inside any window a client sends).
_QUERY = re.compile(
    r'^\s*clientReferenceInformation\.code:(?:"(?P<quoted>[^"]+)"|(?P<bare>[^\s"]+))'
    r"(?:\s+AND\s+submitTimeUtc:\[[^\]}]*[\]}])?\s*$"
)
# Keyed per process so a card's fingerprint (used only to tell a changed repeat of a code)
# cannot be looked up against a table of PANs.
_FINGERPRINT_KEY = secrets.token_bytes(32)

DECLINES = {
    recipients.DECLINED: (
        "05",
        "PROCESSOR_DECLINED",
        "Decline - General decline of the card. No other information provided by the issuer.",
    ),
    recipients.CANNOT_RECEIVE: (
        "57",
        "INVALID_ACCOUNT",
        "Decline - The card cannot receive push payments (Original Credit Transactions).",
    ),
}


def _invalid(field: str, message: str) -> SandboxError:
    return SandboxError(400, "invalid_request", message, details={"field": field})


def _node(payload: dict[str, Any], path: str) -> Any:
    node: Any = payload
    for name in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    return node


def _text(payload: dict[str, Any], path: str, max_length: int, *, required: bool = True) -> str:
    value = _node(payload, path)
    if value is None and not required:
        return ""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > max_length
        or any(unicodedata.category(char) == "Cc" for char in value)
    ):
        raise _invalid(path, f"{path} must be text of 1 to {max_length} characters")
    return value


def _amount(payload: dict[str, Any]) -> int:
    path = "orderInformation.amountDetails.totalAmount"
    value = _node(payload, path)
    match = _AMOUNT.match(value) if isinstance(value, str) else None
    if not match:
        raise _invalid(path, f'{path} must be a decimal string such as "1500.00"')
    whole, fraction = match.group(1), (match.group(2) or ".")[1:]
    minor = int(whole) * MINOR_PER_MAJOR + int(fraction.ljust(2, "0"))
    if minor <= 0:
        raise _invalid(path, f"{path} must be more than zero")
    return minor


def _check_request(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate an OctCreatePaymentRequest; return what the payout needs (JWE undecrypted)."""
    code = _text(payload, "clientReferenceInformation.code", MAX_CODE_LENGTH)
    amount = _amount(payload)
    if _node(payload, "orderInformation.amountDetails.currency") != CURRENCY:
        raise _invalid(
            "orderInformation.amountDetails.currency",
            f"orderInformation.amountDetails.currency must be {CURRENCY}",
        )
    _text(payload, "senderInformation.name", MAX_NAME_LENGTH)
    _text(payload, "senderInformation.referenceNumber", MAX_CODE_LENGTH)
    if _node(payload, "senderInformation.account.fundsSource") not in FUNDS_SOURCES:
        raise _invalid(
            "senderInformation.account.fundsSource",
            f"senderInformation.account.fundsSource must be one of {', '.join(FUNDS_SOURCES)}",
        )
    _text(payload, "recipientInformation.firstName", MAX_NAME_LENGTH)
    _text(payload, "recipientInformation.lastName", MAX_NAME_LENGTH, required=False)
    country = _node(payload, "recipientInformation.country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise _invalid(
            "recipientInformation.country",
            "recipientInformation.country must be an ISO 3166 alpha-2 code such as KE",
        )
    application = _node(payload, "processingInformation.businessApplicationId")
    if application not in BUSINESS_APPLICATIONS:
        raise _invalid(
            "processingInformation.businessApplicationId",
            "processingInformation.businessApplicationId must be PP or AA",
        )
    reconciliation_id = _text(
        payload,
        "processingInformation.reconciliationId",
        MAX_RECONCILIATION_ID_LENGTH,
        required=False,
    )
    options = _node(payload, "processingInformation.payoutsOptions")
    if options is not None and not isinstance(options, dict):
        raise _invalid(
            "processingInformation.payoutsOptions",
            "processingInformation.payoutsOptions must be an object",
        )
    encrypted_card = _text(payload, "paymentInformation.card.encryptedCard", 20_000)
    return {
        "code": code,
        "amount": amount,
        "business_application_id": application,
        "reconciliation_id": reconciliation_id or secrets.token_hex(8).upper(),
        "country": country,
        "encrypted_card": encrypted_card,
    }


def _card_fingerprint(pan: str) -> str:
    return hmac.new(_FINGERPRINT_KEY, pan.encode(), hashlib.sha256).hexdigest()


# answers --------------------------------------------------------------------------------


def _payout_answer(payout: Payout) -> dict[str, Any]:
    """PtsV2PayoutsPost201Response, the fields the sandbox fills."""
    processor: dict[str, Any] = {"transactionId": payout.network_transaction_id}
    if payout.response_code:
        processor["responseCode"] = payout.response_code
    if payout.approval_code:
        processor["approvalCode"] = payout.approval_code
    body: dict[str, Any] = {
        "id": payout.payout_id,
        "submitTimeUtc": payout.submit_time_utc,
        "status": payout.status,
        "reconciliationId": payout.reconciliation_id,
        "clientReferenceInformation": {"code": payout.code},
        "orderInformation": {
            "amountDetails": {"totalAmount": render_amount(payout.amount), "currency": CURRENCY}
        },
        "processorInformation": processor,
    }
    if payout.error_reason:
        body["errorInformation"] = {"reason": payout.error_reason, "message": payout.error_message}
    return body


def _application_information(payout: Payout) -> dict[str, str]:
    # CyberSource's reason codes: 100 success, 233 general decline by the processor.
    if payout.status == "ACCEPTED":
        return {"status": "ACCEPTED", "reasonCode": "100", "rCode": "1"}
    if payout.status == "DECLINED":
        return {"status": "DECLINED", "reasonCode": "233", "rCode": "0"}
    return {"status": "PENDING"}


def _summary(state: SandboxState, payout: Payout) -> dict[str, Any]:
    """TssV2TransactionsPost201ResponseEmbeddedTransactionSummaries, the sandbox's fields."""
    processor = {"responseCode": payout.response_code} if payout.response_code else {}
    if payout.approval_code:
        processor["approvalCode"] = payout.approval_code
    return {
        "id": payout.payout_id,
        "submitTimeUtc": payout.submit_time_utc,
        "merchantId": state.config.credentials.merchant_id,
        "applicationInformation": _application_information(payout),
        "clientReferenceInformation": {"code": payout.code},
        "orderInformation": {
            "amountDetails": {"totalAmount": render_amount(payout.amount), "currency": CURRENCY}
        },
        "paymentInformation": {"card": {"suffix": payout.card_last4, "type": "001"}},
        "processingInformation": {"businessApplicationId": payout.business_application_id},
        "processorInformation": processor,
    }


def _details(state: SandboxState, payout: Payout) -> dict[str, Any]:
    """TssV2TransactionsGet200Response, the sandbox's fields: the summary and a few more."""
    details = {
        **_summary(state, payout),
        "rootId": payout.payout_id,
        "reconciliationId": payout.reconciliation_id,
        "status": payout.status,
    }
    details["processorInformation"]["transactionId"] = payout.network_transaction_id
    if payout.error_reason:
        details["errorInformation"] = {
            "reason": payout.error_reason,
            "message": payout.error_message,
        }
    return details


def _replayed(status: int, body: dict[str, Any], replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)


# the OCT ------------------------------------------------------------------------------


def _make_payout(
    state: SandboxState, request: dict[str, Any], card: RecipientCard, record: IdempotencyRecord
) -> tuple[int, dict[str, Any], bool]:
    world = state.visa_direct
    suffix = card.last4
    with state.lock:
        record.attempts += 1
        if suffix == recipients.FLAKY and record.attempts <= recipients.FLAKY_FAILURES:
            raise SandboxError(503, "unavailable", "payouts temporarily unavailable")
        payout = Payout(
            payout_id=world.new_payout_id(),
            code=request["code"],
            amount=request["amount"],
            business_application_id=request["business_application_id"],
            reconciliation_id=request["reconciliation_id"],
            card_last4=suffix,
            recipient_country=request["country"],
            submitted_at=datetime.now(UTC).replace(microsecond=0),
            status="ACCEPTED",
            response_code="00",
            network_transaction_id=world.network_transaction_id(),
        )
        if suffix in DECLINES:
            payout.status = "DECLINED"
            payout.response_code, payout.error_reason, payout.error_message = DECLINES[suffix]
            if suffix == recipients.CANNOT_RECEIVE:
                world.sent_to_cards_that_cannot_receive += 1
        elif suffix == recipients.PENDING:
            payout.status = "PENDING"  # the issuer has not answered yet
            payout.response_code = None
            payout.approve_at = time.time() + state.config.payout_pending_seconds
        else:
            payout.approval_code = world.approval_code()
        world.add_payout(payout)
        return 201, _payout_answer(payout), True


async def create_payout(request: Request) -> JSONResponse:
    state, raw, lose = await admit_signed(request, SYSTEM, "payout")
    checked = _check_request(parse_json_object(raw))
    card = recipients.decrypt(state, SYSTEM, checked["encrypted_card"])
    # A repeat of a code re-encrypts the card, so compare the card, not the JWE's bytes.
    fingerprint = fingerprint_of(
        {
            "amount": checked["amount"],
            "business_application_id": checked["business_application_id"],
            "card": _card_fingerprint(card.pan),
        }
    )

    async def perform(record: IdempotencyRecord) -> tuple[int, dict[str, Any], bool]:
        return _make_payout(state, checked, card, record)

    status, body, replayed = await run_idempotent(
        state,
        checked["code"],
        "payout",
        "payout",
        perform,
        store=state.visa_direct.payout_requests,
        fingerprint=fingerprint,
    )
    if card.last4 == recipients.SLOW:
        # Paid already (the status read says so); every answer comes too late.
        await asyncio.sleep(state.config.slow_seconds)
    if lose:
        await lose_answer(state, SYSTEM)
    return _replayed(status, body, replayed)


# status reads -------------------------------------------------------------------------


def _int_field(payload: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SandboxError(
            400, "invalid_request", f"{name} must be an integer from {low} to {high}"
        )
    return value


async def search(request: Request) -> JSONResponse:
    state, raw, _ = await admit_signed(request, SYSTEM, "search")
    payload = parse_json_object(raw)
    query = payload.get("query")
    match = _QUERY.match(query) if isinstance(query, str) else None
    if not match:
        raise SandboxError(
            400,
            "unsupported_query",
            "the sandbox searches only clientReferenceInformation.code:<code>, optionally "
            "AND submitTimeUtc:[...]",
        )
    code = match.group("quoted") or match.group("bare")
    offset = _int_field(payload, "offset", 0, 0, 10_000)
    limit = _int_field(payload, "limit", 20, 1, 2500)
    with state.lock:
        state.visa_direct.refresh()
        payout = state.visa_direct.payouts_by_code.get(code)
        found = [_summary(state, payout)] if payout is not None else []
    page = found[offset : offset + limit]
    body: dict[str, Any] = {
        "searchId": str(uuid.uuid4()),
        "save": payload.get("save") is True,
        "name": payload.get("name") if isinstance(payload.get("name"), str) else None,
        "timezone": payload.get("timezone") if isinstance(payload.get("timezone"), str) else None,
        "query": query,
        "offset": offset,
        "limit": limit,
        "sort": payload.get("sort") if isinstance(payload.get("sort"), str) else None,
        "count": len(page),
        "totalCount": len(found),
        "submitTimeUtc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if page:  # CyberSource leaves _embedded out when nothing is on the page
        body["_embedded"] = {"transactionSummaries": page}
    return JSONResponse(body, status_code=201)


async def transaction(request: Request) -> JSONResponse:
    state, _, _ = await admit_signed(request, SYSTEM, "transaction")
    with state.lock:
        state.visa_direct.refresh()
        payout = state.visa_direct.payouts.get(request.path_params["transaction_id"])
        if payout is None:
            raise SandboxError(404, "not_found", "no transaction with this id")
        return JSONResponse(_details(state, payout))


payout_routes = [Route("/v2/payouts", create_payout, methods=["POST"])]
search_routes = [
    Route("/v2/searches", search, methods=["POST"]),
    Route("/v2/transactions/{transaction_id}", transaction, methods=["GET"]),
]
