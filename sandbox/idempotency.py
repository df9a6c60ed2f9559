"""Idempotency-Key handling for the token service's effectful calls.

A key's first answer that completed (2xx) is stored and replayed byte for byte; a
refusal (400, 404, 409, 503) is not stored, so a corrected retry still gets through,
and the 0028 card's "503 twice, then green" is decided by the key's attempt counter.
Bodies are not compared on replay: a retried provision re-encrypts the card, and a
JWE differs on every encryption, so the same request never has the same bytes twice.
"""

from __future__ import annotations

import asyncio
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


async def run_idempotent(
    state: SandboxState,
    key: str,
    operation: str,
    target: str,
    perform: Callable[[IdempotencyRecord], Awaitable[tuple[int, dict[str, Any], bool]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run `perform` once per key; returns (status, body, replayed).

    `perform` returns (status, body, final); only a final answer is stored. A second
    call that arrives while the first is still running (the slow card, a client that
    timed out and retried) waits for it rather than acting twice.
    """
    counted = False
    while True:
        with state.lock:
            record = state.idempotency.get(key)
            if record is None:
                record = state.idempotency[key] = IdempotencyRecord(key, operation, target)
            if (record.operation, record.target) != (operation, target):
                raise SandboxError(
                    422,
                    "idempotency_key_reused",
                    f"key was first used for {record.operation} {record.target}",
                )
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
