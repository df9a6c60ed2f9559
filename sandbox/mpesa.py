"""M-Pesa core ledger stand-in: holds on a customer's balance, each captured or released once.

Money is integer minor units of KES. Every effectful call needs an Idempotency-Key: the
same key with the same body replays the first answer, another body under it is 422. A
hold is settled exactly once: a second capture (or release) of it, under any key,
replays the first answer and moves no money; the opposite move is 409. Insufficient
funds is the key's answer for good (stored and replayed), and holds nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .auth import admit_bearer
from .errors import SandboxError, parse_json_object, read_json_object
from .faults import lose_answer
from .idempotency import fingerprint_of, require_key, run_idempotent
from .state import IdempotencyRecord, SandboxState
from .visa_direct_state import CURRENCY

MAX_AMOUNT = 10**12  # minor units: KES 10 billion, far above any M-Pesa limit
MAX_ID_LENGTH = 64
_SETTLED = {"capture": "captured", "release": "released"}


async def _admit(request: Request, operation: str) -> tuple[SandboxState, bool]:
    return await admit_bearer(request, "mpesa", operation, lambda c: c.mpesa_api_key)


def _answer(status: int, body: dict[str, Any], replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)


def _minor_units(value: object, name: str, *, minimum: int) -> int:
    # bool is an int in Python; a JSON true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_AMOUNT:
        raise SandboxError(
            400,
            "invalid_amount",
            f"{name} must be a whole number of minor units from {minimum} to {MAX_AMOUNT}",
        )
    return value


def _identifier(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise SandboxError(
            400, "invalid_request", f"{name} is required: 1 to {MAX_ID_LENGTH} characters"
        )
    return value


def _refusal(state: SandboxState, http_status: int, code: str, message: str) -> SandboxError:
    """A counted refusal, for the caller to raise."""
    with state.lock:
        state.visa_direct.ledger_refusals[code] += 1
    return SandboxError(http_status, code, message)


# holds --------------------------------------------------------------------------------


async def place_hold(request: Request) -> JSONResponse:
    state, lose = await _admit(request, "hold")
    key = require_key(request)
    payload = await read_json_object(request)
    customer_id = _identifier(payload, "customer_id")
    reference = _identifier(payload, "reference")
    amount = _minor_units(payload.get("amount"), "amount", minimum=1)
    fee = _minor_units(payload.get("fee"), "fee", minimum=0)
    if payload.get("currency") != CURRENCY:
        raise SandboxError(400, "invalid_currency", f"currency must be {CURRENCY}")
    world = state.visa_direct

    async def perform(record: IdempotencyRecord) -> tuple[int, dict[str, Any], bool]:
        with state.lock:
            account = world.accounts.get(customer_id)
            if account is None:
                raise _refusal(state, 404, "account_not_found", "no M-Pesa account for them")
            if amount + fee > account.available:
                # Stored and replayed like a hold: it is this key's answer for good.
                world.ledger_refusals["insufficient_funds"] += 1
                refusal = {
                    "error": {
                        "code": "insufficient_funds",
                        "message": "the available balance does not cover amount plus fee",
                        "details": {"available": account.available, "required": amount + fee},
                    }
                }
                return 422, refusal, True
            hold = world.place_hold(
                record.key, customer_id=customer_id, amount=amount, fee=fee, reference=reference
            )
            return 201, hold.public(), True

    answer = await run_idempotent(
        state,
        key,
        "hold",
        "hold",
        perform,
        store=world.ledger_keys,
        fingerprint=fingerprint_of(payload),
    )
    if lose:
        await lose_answer(state, "mpesa")
    return _answer(*answer)


async def _settle(request: Request, operation: str) -> JSONResponse:
    state, lose = await _admit(request, operation)
    key = require_key(request)
    hold_id = request.path_params["hold_id"]
    payload = parse_json_object(await request.body())
    world = state.visa_direct
    repeated = False

    async def perform(record: IdempotencyRecord) -> tuple[int, dict[str, Any], bool]:
        nonlocal repeated
        with state.lock:
            hold = world.holds.get(hold_id)
            if hold is None:
                raise SandboxError(404, "hold_not_found", "no such hold")
            if hold.status == _SETTLED[operation]:
                # Settled already (under another key): the first answer, no second move.
                world.repeated_settlements[operation] += 1
                repeated = True
                assert hold.settle_answer is not None
                return 200, hold.settle_answer, True
            if hold.status != "held":
                raise _refusal(
                    state, 409, f"hold_{hold.status}", f"cannot {operation} a {hold.status} hold"
                )
            world.settle_hold(record.key, hold, operation)
            hold.settle_answer = hold.public()
            return 200, hold.settle_answer, True

    status, body, replayed = await run_idempotent(
        state,
        key,
        operation,
        hold_id,
        perform,
        store=world.ledger_keys,
        fingerprint=fingerprint_of(payload),
    )
    if lose:
        await lose_answer(state, "mpesa")
    return _answer(status, body, replayed or repeated)


async def capture(request: Request) -> JSONResponse:
    return await _settle(request, "capture")


async def release(request: Request) -> JSONResponse:
    return await _settle(request, "release")


async def get_hold(request: Request) -> JSONResponse:
    state, _ = await _admit(request, "get_hold")
    with state.lock:
        hold = state.visa_direct.holds.get(request.path_params["hold_id"])
        if hold is None:
            raise SandboxError(404, "hold_not_found", "no such hold")
        return JSONResponse(hold.public())


async def list_holds(request: Request) -> JSONResponse:
    state, _ = await _admit(request, "list_holds")
    reference = request.query_params.get("reference")
    customer_id = request.query_params.get("customer_id")
    if not reference and not customer_id:
        raise SandboxError(400, "invalid_request", "give reference or customer_id (or both)")
    with state.lock:
        holds = [
            hold.public()
            for hold in state.visa_direct.holds.values()
            if (reference is None or hold.reference == reference)
            and (customer_id is None or hold.customer_id == customer_id)
        ]
    return JSONResponse({"holds": holds})


routes = [
    Route("/v1/holds", place_hold, methods=["POST"]),
    Route("/v1/holds", list_holds, methods=["GET"]),
    Route("/v1/holds/{hold_id}", get_hold, methods=["GET"]),
    Route("/v1/holds/{hold_id}/capture", capture, methods=["POST"]),
    Route("/v1/holds/{hold_id}/release", release, methods=["POST"]),
]


# controls (/sandbox/mpesa/...) --------------------------------------------------------


async def set_account(request: Request) -> JSONResponse:
    state: SandboxState = request.app.state.sandbox
    payload = await read_json_object(request)
    customer_id = _identifier(payload, "customer_id")
    balance = _minor_units(payload.get("balance"), "balance", minimum=0)
    with state.lock:
        account = state.visa_direct.accounts.get(customer_id)
        if account is not None and balance < account.held:
            raise SandboxError(
                409,
                "balance_below_held",
                "the balance cannot be set below what is held",
                details={"held": account.held},
            )
        return JSONResponse(state.visa_direct.set_balance(customer_id, balance).public())


async def get_account(request: Request) -> JSONResponse:
    state: SandboxState = request.app.state.sandbox
    with state.lock:
        account = state.visa_direct.accounts.get(request.path_params["customer_id"])
        if account is None:
            raise SandboxError(404, "account_not_found", "no M-Pesa account for this customer")
        return JSONResponse({**account.public(), "operations": list(account.operations)})


control_routes = [
    Route("/mpesa/accounts", set_account, methods=["POST"]),
    Route("/mpesa/accounts/{customer_id}", get_account, methods=["GET"]),
]
