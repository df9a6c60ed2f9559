"""Fault injection per outside system: added latency, 503s, and hangs that look like timeouts.

An injected timeout hangs for SANDBOX_SLOW_SECONDS and then lets the call through, so
the effect happens after the caller gave up: that is the case that tempts a client
into a duplicate, which the idempotency and message counters are there to catch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .errors import SandboxError
from .state import SYSTEMS, Fault, SandboxState


def parse_fault(payload: dict[str, Any]) -> tuple[str, Fault]:
    system = payload.get("system")
    if system not in SYSTEMS:
        raise SandboxError(400, "invalid_system", f"system must be one of {', '.join(SYSTEMS)}")
    rates = {}
    for name in ("error_rate", "timeout_rate"):
        value = payload.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise SandboxError(400, "invalid_fault", f"{name} must be a number from 0 to 1")
        rates[name] = float(value)
    latency = payload.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        raise SandboxError(400, "invalid_fault", "latency_ms must be a non-negative integer")
    return system, Fault(latency_ms=latency, **rates)


async def apply_faults(state: SandboxState, system: str) -> None:
    """Delay, hang or refuse the current call as the fault set for `system` says."""
    with state.lock:
        fault = state.faults.get(system)
        if fault is None:
            return
        # Draw both numbers on every call so one seed gives one sequence of outcomes.
        timeout_roll, error_roll = state.rng.random(), state.rng.random()
        timed_out = timeout_roll < fault.timeout_rate
        failed = not timed_out and error_roll < fault.error_rate
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
