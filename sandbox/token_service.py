"""Token service stand-in (CyberSource / VTS shaped): provision, status, token lifecycle.

Every call must carry a valid HTTP Signature; effectful calls an Idempotency-Key.
The decision is taken by the PAN's last four digits (sandbox/README.md, "Seeded cards").
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .card_decryption import CardDecryptionError, decrypt_card
from .errors import SandboxError, parse_json_object, require_str
from .idempotency import require_key, run_idempotent
from .issuer import WALLETS
from .signed import admit_signed
from .state import IdempotencyRecord, Provision, SandboxState
from .webhooks import build_event, deliver

RED, YELLOW, FLAKY, LATE, SLOW = "0002", "0010", "0028", "0036", "0044"
FLAKY_FAILURES = 2

# operation -> (states it may start from, state it leads to)
LIFECYCLE = {
    "activate": ({"INACTIVE"}, "ACTIVE"),
    "suspend": ({"ACTIVE"}, "SUSPENDED"),
    "resume": ({"SUSPENDED"}, "ACTIVE"),
    "delete": ({"INACTIVE", "ACTIVE", "SUSPENDED"}, "DELETED"),
}


def _blob(size: int = 48) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def wallet_payload(wallet: str) -> dict[str, str]:
    if wallet == "apple_pay":
        return {
            "encrypted_pass_data": _blob(96),
            "activation_data": _blob(32),
            "ephemeral_public_key": _blob(65),
        }
    return {"opaque_payment_card": _blob(96)}


async def _admit(request: Request, operation: str) -> tuple[SandboxState, bytes]:
    """Count, apply faults, and check the signature; return the state and raw body."""
    state, body, _ = await admit_signed(request, "token_service", operation)
    return state, body


T = TypeVar("T")


def _found(thing: T | None, message: str) -> T:
    """The looked-up record, or the 404 the real service answers for an unknown id."""
    if thing is None:
        raise SandboxError(404, "not_found", message)
    return thing


def _answer(status: int, body: dict[str, Any], replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)


# provision ---------------------------------------------------------------------------


def _is_b64(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    return True


def _check_apple_data(apple: object) -> None:
    if not isinstance(apple, dict):
        raise SandboxError(
            400, "invalid_apple_data", "apple_pay needs apple certificates and nonce"
        )
    certificates = apple.get("certificates")
    if not isinstance(certificates, list) or not certificates:
        raise SandboxError(400, "invalid_apple_data", "apple.certificates must be a non-empty list")
    for value in (*certificates, apple.get("nonce"), apple.get("nonce_signature")):
        if not _is_b64(value):
            raise SandboxError(400, "invalid_apple_data", "apple data must be base64")


def _check_provision_request(payload: dict[str, Any]) -> tuple[str, str, str]:
    request_id = require_str(payload, "request_id")
    wallet = payload.get("wallet")
    if wallet not in WALLETS:
        raise SandboxError(400, "invalid_request", f"wallet must be one of {', '.join(WALLETS)}")
    device = payload.get("device")
    if not isinstance(device, dict) or not all(
        isinstance(device.get(name), str) and device.get(name) for name in ("id", "type", "os")
    ):
        raise SandboxError(400, "invalid_request", "device must have id, type and os")
    account = payload.get("wallet_account_id")
    if account is not None and not isinstance(account, str):
        raise SandboxError(400, "invalid_request", "wallet_account_id must be a string or null")
    encrypted_card = require_str(payload, "encrypted_card")
    if wallet == "apple_pay":
        _check_apple_data(payload.get("apple"))
    if payload.get("issuer_decision") not in (None, "green", "yellow", "red"):
        raise SandboxError(400, "invalid_request", "issuer_decision must be green, yellow or red")
    return request_id, wallet, encrypted_card


def _grant_token(
    state: SandboxState, *, key: str, request_id: str, wallet: str, decision: str
) -> Provision:
    """The effect of a provision: one token, and the decision that names it."""
    status = "INACTIVE" if decision == "yellow" else "ACTIVE"
    with state.lock:
        token = state.create_token(request_id=request_id, wallet=wallet, status=status, key=key)
        provision = Provision(
            request_id,
            decision,
            wallet,
            token_ref=token.token_ref,
            wallet_payload=wallet_payload(wallet),
        )
        state.provisions[request_id] = provision
        return provision


async def _decide_late(
    state: SandboxState, *, key: str, request_id: str, wallet: str, correlation_id: str | None,
    decision: str = "green",
) -> None:
    await asyncio.sleep(state.config.late_decision_seconds)
    provision = _grant_token(state, key=key, request_id=request_id, wallet=wallet, decision=decision)
    body = state.provision_body(provision)
    data = {
        "request_id": request_id,
        "decision": decision,
        "token_ref": body["token_ref"],
        "token_last4": body["token_last4"],
        "token_expiry": body["token_expiry"],
        "wallet_payload": body["wallet_payload"],
        "reason": None,
    }
    await deliver(state, build_event(state, "provisioning.decision", data, correlation_id))


async def _decide_provision(
    state: SandboxState, raw: bytes, record: IdempotencyRecord, correlation_id: str | None
) -> tuple[int, dict[str, Any], bool]:
    payload = parse_json_object(raw)
    request_id, wallet, encrypted_card = _check_provision_request(payload)
    try:
        card_data = decrypt_card(encrypted_card, state.config.credentials.jwe_private_key)
    except CardDecryptionError as exc:
        state.count_jwe_failure("token_service")
        raise SandboxError(400, "invalid_jwe", str(exc)) from None
    with state.lock:
        card = state.find_card(card_data.pan, card_data.expiry_month, card_data.expiry_year)
        if card is None:
            state.counters.card_mismatches += 1
            raise SandboxError(400, "card_mismatch", "card data is not a card the issuer holds")
        record.attempts += 1
        attempt = record.attempts
    suffix = card.last4
    # The issuer's own decision (network issuer-decisioning): the most restrictive wins.
    issuer_decision = payload.get("issuer_decision") or "green"

    if suffix == FLAKY and attempt <= FLAKY_FAILURES:
        raise SandboxError(503, "unavailable", "token service temporarily unavailable")
    if suffix == RED or issuer_decision == "red":
        with state.lock:
            state.record_effect(record.key)
            reason = "risk_declined" if suffix == RED else "issuer_declined"
            provision = Provision(request_id, "red", wallet, reason=reason)
            state.provisions[request_id] = provision
        return 200, state.provision_body(provision), True
    if suffix == LATE:
        with state.lock:
            state.provisions[request_id] = Provision(request_id, "pending", wallet)
            state.spawn(
                _decide_late(
                    state,
                    key=record.key,
                    request_id=request_id,
                    wallet=wallet,
                    correlation_id=correlation_id,
                    decision="yellow" if issuer_decision == "yellow" else "green",
                )
            )
        return 202, {"decision": "pending", "token_ref": None}, True
    if suffix == SLOW:
        # Readable as pending by the status call while the answer is held back.
        with state.lock:
            state.provisions[request_id] = Provision(request_id, "pending", wallet)
        await asyncio.sleep(state.config.slow_seconds)

    decision = "yellow" if suffix == YELLOW or issuer_decision == "yellow" else "green"
    provision = _grant_token(
        state, key=record.key, request_id=request_id, wallet=wallet, decision=decision
    )
    return 201, state.provision_body(provision), True


async def provision(request: Request) -> JSONResponse:
    state, raw = await _admit(request, "provision")
    key = require_key(request)
    correlation_id = request.headers.get("x-correlation-id")

    async def perform(record: IdempotencyRecord) -> tuple[int, dict[str, Any], bool]:
        return await _decide_provision(state, raw, record, correlation_id)

    return _answer(*await run_idempotent(state, key, "provision", "provision", perform))


async def provision_status(request: Request) -> JSONResponse:
    state, _ = await _admit(request, "provision_status")
    with state.lock:
        provision = _found(state.provisions.get(request.path_params["request_id"]),
                           "no provision with this request id")
        return JSONResponse(state.provision_body(provision))


# tokens ------------------------------------------------------------------------------


async def get_token(request: Request) -> JSONResponse:
    state, _ = await _admit(request, "get_token")
    with state.lock:
        token = _found(state.tokens.get(request.path_params["token_ref"]), "no such token")
        return JSONResponse(token.public())


async def _change_token(request: Request, operation: str) -> JSONResponse:
    state, raw = await _admit(request, operation)
    key = require_key(request)
    token_ref = request.path_params["token_ref"]
    sources, target = LIFECYCLE[operation]

    async def perform(record: IdempotencyRecord) -> tuple[int, dict[str, Any], bool]:
        payload = parse_json_object(raw)
        if payload.get("reason") is not None and not isinstance(payload["reason"], str):
            raise SandboxError(400, "invalid_request", "reason must be a string")
        with state.lock:
            token = _found(state.tokens.get(token_ref), "no such token")
            if token.status not in sources:
                raise SandboxError(
                    409, "invalid_state", f"cannot {operation} a {token.status} token"
                )
            state.record_effect(record.key)
            token.status = target
            return 200, {"token_ref": token.token_ref, "status": token.status}, True

    return _answer(*await run_idempotent(state, key, operation, token_ref, perform))


async def activate(request: Request) -> JSONResponse:
    return await _change_token(request, "activate")


async def suspend(request: Request) -> JSONResponse:
    return await _change_token(request, "suspend")


async def resume(request: Request) -> JSONResponse:
    return await _change_token(request, "resume")


async def delete(request: Request) -> JSONResponse:
    return await _change_token(request, "delete")


routes = [
    Route("/v2/tokens", provision, methods=["POST"]),
    Route("/v2/provisions/{request_id}", provision_status, methods=["GET"]),
    Route("/v2/tokens/{token_ref}", get_token, methods=["GET"]),
    Route("/v2/tokens/{token_ref}", delete, methods=["DELETE"]),
    Route("/v2/tokens/{token_ref}/activate", activate, methods=["POST"]),
    Route("/v2/tokens/{token_ref}/suspend", suspend, methods=["POST"]),
    Route("/v2/tokens/{token_ref}/resume", resume, methods=["POST"]),
]
