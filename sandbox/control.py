"""Control endpoints under /sandbox: cards, wallet-side events, inbox, faults, stats, reset."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .cards import parse_new_card
from .errors import SandboxError, read_json_object, require_str
from .faults import parse_fault
from .state import SYSTEMS, SandboxState
from .webhooks import build_event, deliver, post_once, resign

_TOKEN_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/\d{2}$")

# event type -> (token states it may come from, state it leads to); None keeps the state.
TOKEN_EVENTS: dict[str, tuple[set[str], str | None]] = {
    "token.suspended": ({"ACTIVE"}, "SUSPENDED"),
    "token.resumed": ({"SUSPENDED"}, "ACTIVE"),
    "token.deleted": ({"INACTIVE", "ACTIVE", "SUSPENDED"}, "DELETED"),
    "token.updated": ({"INACTIVE", "ACTIVE", "SUSPENDED"}, None),
}
TOKEN_EVENT_INITIATORS = ("wallet", "issuer")


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def create_card(request: Request) -> JSONResponse:
    card, customer = parse_new_card(await read_json_object(request))
    _state(request).add_card(card, customer["msisdn"], customer["kyc_tier"])
    return JSONResponse({"card_id": card.card_id}, status_code=201)


async def list_cards(request: Request) -> JSONResponse:
    state = _state(request)
    customer_id = request.query_params.get("customer_id")
    with state.lock:
        cards = [
            card.public()
            for card in state.cards.values()
            if customer_id is None or card.customer_id == customer_id
        ]
    return JSONResponse({"cards": cards})


async def list_tokens(request: Request) -> JSONResponse:
    state = _state(request)
    request_id = request.query_params.get("request_id")
    with state.lock:
        tokens = [
            {**token.public(), "request_id": token.request_id, "wallet": token.wallet}
            for token in state.tokens.values()
            if request_id is None or token.request_id == request_id
        ]
    return JSONResponse({"tokens": tokens})


def _updated_fields(payload: dict[str, Any]) -> tuple[str, str]:
    last4 = payload.get("token_last4")
    if last4 is None:
        last4 = f"{secrets.randbelow(10_000):04d}"
    elif not isinstance(last4, str) or not (len(last4) == 4 and last4.isdigit()):
        raise SandboxError(400, "invalid_request", "token_last4 must be four digits")
    expiry = payload.get("token_expiry")
    if expiry is None:
        today = datetime.now(UTC)
        expiry = f"{today.month:02d}/{(today.year + 4) % 100:02d}"
    elif not isinstance(expiry, str) or not _TOKEN_EXPIRY.match(expiry):
        raise SandboxError(400, "invalid_request", "token_expiry must be MM/YY")
    return last4, expiry


async def token_event(request: Request) -> JSONResponse:
    """A wallet-side change: apply it to the token, then tell the service by webhook."""
    state = _state(request)
    payload = await read_json_object(request)
    event_type = payload.get("type")
    if event_type not in TOKEN_EVENTS:
        raise SandboxError(
            400, "invalid_event_type", f"type must be one of {', '.join(TOKEN_EVENTS)}"
        )
    deliver_now = payload.get("deliver", True)
    if not isinstance(deliver_now, bool):
        raise SandboxError(400, "invalid_request", "deliver must be true or false")
    # Who made a lifecycle change at the token service: the wallet (the default) or the
    # issuer through it; the service records who may lift a suspension from this.
    initiator = payload.get("initiator")
    if initiator is not None and (initiator not in TOKEN_EVENT_INITIATORS
                                  or event_type == "token.updated"):
        raise SandboxError(400, "invalid_request",
                           f"initiator must be one of {', '.join(TOKEN_EVENT_INITIATORS)}, "
                           "on a lifecycle event")
    sources, target = TOKEN_EVENTS[event_type]
    with state.lock:
        token = state.tokens.get(request.path_params["token_ref"])
        if token is None:
            raise SandboxError(404, "not_found", "no such token")
        if token.status not in sources:
            raise SandboxError(
                409, "invalid_state", f"{event_type} cannot apply to a {token.status} token"
            )
        if target is None:
            token.token_last4, token.token_expiry = _updated_fields(payload)
            data = {
                "token_ref": token.token_ref,
                "token_last4": token.token_last4,
                "token_expiry": token.token_expiry,
            }
        else:
            token.status = target
            data = {"token_ref": token.token_ref, "status": token.status}
            if initiator is not None:
                data["initiator"] = initiator
    event = build_event(state, event_type, data)
    if not deliver_now:
        with state.lock:
            event.delivery = "not_sent"
        return JSONResponse(
            {"event_id": event.event_id, "headers": event.headers, "body": event.body.decode()}
        )
    state.spawn(deliver(state, event))
    return JSONResponse({"event_id": event.event_id}, status_code=202)


async def list_webhooks(request: Request) -> JSONResponse:
    state = _state(request)
    with state.lock:
        return JSONResponse({"events": [event.public() for event in state.events.values()]})


async def replay_webhook(request: Request) -> JSONResponse:
    """Send a remembered event once more, verbatim (or re-signed), and report the answer."""
    state = _state(request)
    payload = await read_json_object(request)
    event_id = require_str(payload, "event_id")
    with state.lock:
        event = state.events.get(event_id)
    if event is None:
        raise SandboxError(404, "not_found", "no event with this id")
    headers = resign(state, event) if payload.get("resign") is True else None
    status = await post_once(state, event, headers)
    return JSONResponse({"event_id": event_id, "status_code": status})


async def list_messages(request: Request) -> JSONResponse:
    state = _state(request)
    to = request.query_params.get("to")
    with state.lock:
        messages = [m for m in state.messages if to is None or m["to"] == to]
    return JSONResponse({"messages": messages})


async def get_faults(request: Request) -> JSONResponse:
    state = _state(request)
    with state.lock:
        return JSONResponse({"faults": {s: f.public() for s, f in state.faults.items()}})


async def set_fault(request: Request) -> JSONResponse:
    state = _state(request)
    system, fault = parse_fault(await read_json_object(request))
    with state.lock:
        state.faults[system] = fault
        return JSONResponse({"faults": {s: f.public() for s, f in state.faults.items()}})


async def clear_faults(request: Request) -> JSONResponse:
    state = _state(request)
    system = request.query_params.get("system")
    if system is not None and system not in SYSTEMS:
        raise SandboxError(400, "invalid_system", f"system must be one of {', '.join(SYSTEMS)}")
    with state.lock:
        if system is None:
            state.faults.clear()
        else:
            state.faults.pop(system, None)
        return JSONResponse({"faults": {s: f.public() for s, f in state.faults.items()}})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).stats())


async def reset(request: Request) -> JSONResponse:
    _state(request).reset()
    return JSONResponse({"status": "reset"})


async def revoke_access_tokens(request: Request) -> JSONResponse:
    """Forget every push access token issued, as when Google revokes them early: the next
    send with one is 401, and the client must buy a fresh one."""
    state = _state(request)
    with state.lock:
        revoked = len(state.access_tokens)
        state.access_tokens.clear()
    return JSONResponse({"revoked": revoked})


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/cards", create_card, methods=["POST"]),
    Route("/cards", list_cards, methods=["GET"]),
    Route("/tokens", list_tokens, methods=["GET"]),
    Route("/tokens/{token_ref}/events", token_event, methods=["POST"]),
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks/replay", replay_webhook, methods=["POST"]),
    Route("/messages", list_messages, methods=["GET"]),
    Route("/faults", get_faults, methods=["GET"]),
    Route("/faults", set_fault, methods=["POST"]),
    Route("/faults", clear_faults, methods=["DELETE"]),
    Route("/stats", stats, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/access-tokens", revoke_access_tokens, methods=["DELETE"]),
]
