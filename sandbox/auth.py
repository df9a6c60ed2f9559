"""Bearer-key check (and admission) for the issuer, telco, M-Pesa, screening and gateway
stand-ins."""

from __future__ import annotations

import hmac
from typing import Callable

from starlette.requests import Request

from .config import Credentials
from .errors import SandboxError
from .faults import apply_faults
from .state import SandboxState


def require_bearer(request: Request, expected: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise SandboxError(401, "unauthorized", "missing or wrong bearer key")


async def admit_bearer(
    request: Request, system: str, operation: str, key: Callable[[Credentials], str]
) -> tuple[SandboxState, bool]:
    """Count the call, apply the system's faults, check the bearer key (`key` picks it from
    the credentials); return the state and whether the answer is to be lost (faults.py)."""
    state: SandboxState = request.app.state.sandbox
    state.count_call(system, operation)
    lose = await apply_faults(state, system)
    require_bearer(request, key(state.config.credentials))
    return state, lose
