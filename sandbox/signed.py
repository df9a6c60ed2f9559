"""Admission of HTTP-Signature-signed calls: count, apply faults, verify the signature.

CyberSource signs every API of a merchant with one key (the token service, payouts,
transaction search, reporting), and the sandbox asks the same of the attributes inquiry,
so all of them are checked here the same way, with the same merchant credentials.
"""

from __future__ import annotations

from starlette.requests import Request

from .errors import SandboxError
from .faults import apply_faults
from .httpsig import SignatureError, verify_request
from .state import SandboxState


def request_target(request: Request) -> str:
    # The path exactly as it came over the wire (mount prefix included, not re-encoded).
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


async def admit_signed(
    request: Request, system: str, operation: str
) -> tuple[SandboxState, bytes, bool]:
    """Return the state, the raw body, and whether the answer is to be lost (faults.py)."""
    state: SandboxState = request.app.state.sandbox
    state.count_call(system, operation)
    lose = await apply_faults(state, system)
    body = await request.body()
    credentials = state.config.credentials
    try:
        verify_request(
            method=request.method,
            target=request_target(request),
            headers=request.headers,
            body=body,
            key_id=credentials.token_service_key_id,
            secret=credentials.token_service_hmac_key,
            merchant_id=credentials.merchant_id,
        )
    except SignatureError as exc:
        state.count_signature_failure(exc.reason, system)
        raise SandboxError(401, "invalid_signature", exc.message, reason=exc.reason) from None
    return state, body, lose
