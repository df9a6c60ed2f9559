"""Bearer-key check for the issuer, telco and gateway stand-ins."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from .errors import SandboxError


def require_bearer(request: Request, expected: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise SandboxError(401, "unauthorized", "missing or wrong bearer key")
