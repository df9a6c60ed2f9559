"""Error type and JSON error shape shared by every sandbox endpoint.

Counterparts answer `{"error": {"code", "message"}}` (docs/wire-contract.md); the push
gateway adds an FCM-style `status`, passed here as an extra field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class SandboxError(Exception):
    """A refusal with an HTTP status and a stable snake_case code."""

    def __init__(self, http_status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(http_status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=http_status)


async def render_sandbox_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SandboxError)
    return error_response(exc.http_status, exc.code, exc.message, **exc.extra)


async def read_json_object(request: Request) -> dict[str, Any]:
    return parse_json_object(await request.body())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a body as a JSON object; an empty body counts as `{}`."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise SandboxError(400, "invalid_json", "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SandboxError(400, "invalid_json", "body must be a JSON object")
    return data


def require_str(payload: dict[str, Any], field: str, *, code: str = "invalid_request") -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise SandboxError(400, code, f"{field} is required and must be a non-empty string")
    return value
