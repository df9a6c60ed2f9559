"""Fault injection per outside system: added latency, 503s, hangs that look like timeouts,
and, for systems whose calls move money, lost answers.

An injected timeout hangs for SANDBOX_SLOW_SECONDS and then lets the call through, so
the effect happens after the caller gave up: that is the case that tempts a client
into a duplicate, which the idempotency and message counters are there to catch. A lost
answer is the other order: the call takes effect, then its answer is held back for
SANDBOX_SLOW_SECONDS and dropped (a 504), so only a status read or a replay of the same
key tells the caller what happened.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from .errors import SandboxError
from .state import SYSTEMS, Fault, SandboxState

# Systems whose calls move money: the only ones where a lost answer means something.
LOST_ANSWER_SYSTEMS = ("mpesa", "payouts")


def _rate(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SandboxError(400, "invalid_fault", f"{name} must be a number from 0 to 1")
    return float(value)


def parse_fault(payload: dict[str, Any]) -> tuple[str, Fault]:
    system = payload.get("system")
    if system not in SYSTEMS:
        raise SandboxError(400, "invalid_system", f"system must be one of {', '.join(SYSTEMS)}")
    rates = {name: _rate(payload, name) for name in ("error_rate", "timeout_rate")}
    latency = payload.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        raise SandboxError(400, "invalid_fault", "latency_ms must be a non-negative integer")
    lost: float | None = None
    if system in LOST_ANSWER_SYSTEMS:
        lost = _rate(payload, "lost_answer_rate")
    elif "lost_answer_rate" in payload:
        raise SandboxError(
            400,
            "invalid_fault",
            f"lost_answer_rate applies only to {', '.join(LOST_ANSWER_SYSTEMS)}",
        )
    return system, Fault(latency_ms=latency, lost_answer_rate=lost, **rates)


async def apply_faults(state: SandboxState, system: str) -> bool:
    """Delay, hang or refuse the current call as the fault set for `system` says.

    Returns True when the call's answer is to be lost once it has taken effect (the
    handler then calls `lose_answer`).
    """
    with state.lock:
        fault = state.faults.get(system)
        if fault is None:
            return False
        # Draw both numbers on every call so one seed gives one sequence of outcomes; the
        # third only where lost answers exist, so other systems keep their sequences.
        timeout_roll, error_roll = state.rng.random(), state.rng.random()
        lost_roll = state.rng.random() if fault.lost_answer_rate is not None else 1.0
        timed_out = timeout_roll < fault.timeout_rate
        failed = not timed_out and error_roll < fault.error_rate
        lost = not failed and lost_roll < (fault.lost_answer_rate or 0.0)
        if timed_out:
            state.counters.injected_timeouts[system] += 1
        if failed:
            state.counters.injected_errors[system] += 1
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if timed_out:
        await asyncio.sleep(state.config.slow_seconds)
    if failed:
        raise SandboxError(
            503, "unavailable", f"injected fault: {system} unavailable", status="UNAVAILABLE"
        )
    return lost


async def lose_answer(state: SandboxState, system: str) -> NoReturn:
    """The call took effect; hold its answer back past any client timeout, then drop it."""
    with state.lock:
        state.counters.injected_lost_answers[system] += 1
    await asyncio.sleep(state.config.slow_seconds)
    raise SandboxError(504, "answer_lost", f"injected fault: the {system} answer was lost")
