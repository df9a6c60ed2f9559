"""Idempotency-Key handling for the effectful calls of the token service, the M-Pesa
ledger and payouts (each system keeps its own keys: `store`).

A key's first answer that completed (2xx) is stored and replayed byte for byte; a
refusal (400, 404, 409, 503) is not stored, so a corrected retry still gets through,
and the 0028 card's "503 twice, then green" is decided by the key's attempt counter.
Token-service bodies are not compared on replay: a retried provision re-encrypts the
card, and a JWE differs on every encryption, so the same request never has the same bytes
twice. Where a key must not change its request (a ledger hold, a payout), the caller
passes a `fingerprint` of what matters and another one under the same key is 422.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from .errors import SandboxError
from .state import IdempotencyRecord, SandboxState

Answer = tuple[int, dict[str, Any]]
_WAIT_STEP_SECONDS = 0.02


def require_key(request: Request) -> str:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        raise SandboxError(400, "missing_idempotency_key", "Idempotency-Key header is required")
    return key


def fingerprint_of(value: Any) -> str:
    """A stable digest of a JSON-able value (key order and spacing do not matter)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    state: SandboxState,
    key: str,
    operation: str,
    target: str,
    perform: Callable[[IdempotencyRecord], Awaitable[tuple[int, dict[str, Any], bool]]],
    *,
    store: dict[str, IdempotencyRecord] | None = None,
    fingerprint: str | None = None,
) -> tuple[int, dict[str, Any], bool]:
    """Run `perform` once per key; returns (status, body, replayed).

    `perform` returns (status, body, final); only a final answer is stored. A second
    call that arrives while the first is still running (the slow card, a client that
    timed out and retried) waits for it rather than acting twice. `store` is the
    system's key namespace (the token service's by default).
    """
    records = state.idempotency if store is None else store
    counted = False
    while True:
        with state.lock:
            record = records.get(key)
            if record is None:
                record = records[key] = IdempotencyRecord(
                    key, operation, target, fingerprint=fingerprint
                )
            if (record.operation, record.target) != (operation, target):
                raise SandboxError(
                    422,
                    "idempotency_key_reused",
                    f"key was first used for {record.operation} {record.target}",
                )
            if record.fingerprint != fingerprint:
                # Only an answer binds a key to its request: after a refusal that was not
                # stored (a 404, a 503) a corrected request may use the key.
                if record.answer is not None or record.in_flight:
                    raise SandboxError(
                        422, "idempotency_key_reused", "key was first used with another request"
                    )
                record.fingerprint = fingerprint
            if not counted:
                record.calls += 1
                counted = True
            if record.answer is not None:
                record.replays += 1
                status, body = record.answer
                return status, body, True
            if not record.in_flight:
                record.in_flight = True
                break
        # Polling keeps this independent of which event loop the first call runs on.
        await asyncio.sleep(_WAIT_STEP_SECONDS)
    try:
        status, body, final = await perform(record)
        if final:
            with state.lock:
                record.answer = (status, body)
        return status, body, False
    finally:
        with state.lock:
            record.in_flight = False
