"""The sandbox ASGI app: every outside system under its own prefix, plus /sandbox controls.

`create_app(config)` builds an isolated instance (tests make one each); the module
attribute `app` is built from the environment on first access, so importing this module
reads no key file.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from . import (
    attributes,
    control,
    gateways,
    issuer,
    mpesa,
    payouts,
    screening,
    settlement,
    telco,
    token_service,
)
from .config import SandboxConfig
from .errors import SandboxError, error_response, render_sandbox_error
from .state import SandboxState

logger = logging.getLogger("sandbox")


async def _render_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _render_bug(request: Request, exc: Exception) -> JSONResponse:
    # Type only: an exception's text may quote a request body, and bodies hold PANs.
    logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal_error", "sandbox bug; see the sandbox log")


def create_app(config: SandboxConfig | None = None) -> Starlette:
    config = config or SandboxConfig.from_env()
    state = SandboxState(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.cancel_background()

    app = Starlette(
        routes=[
            Mount("/issuer", routes=issuer.routes),
            Mount("/tms", routes=token_service.routes),
            Mount("/push", routes=gateways.push_routes),
            Mount("/sms", routes=gateways.sms_routes),
            Mount("/telco", routes=telco.routes),
            # Visa Direct. Each CyberSource API keeps its real first path segment (/pts,
            # /tss, /reporting, as /tms above), so a signed request-target is the real one.
            Mount("/mpesa", routes=mpesa.routes),
            Mount("/paai", routes=attributes.routes),
            Mount("/pts", routes=payouts.payout_routes),
            Mount("/tss", routes=payouts.search_routes),
            Mount("/screening", routes=screening.routes),
            Mount("/reporting", routes=settlement.routes),
            Mount(
                "/sandbox",
                routes=[*control.routes, *mpesa.control_routes, *settlement.control_routes],
            ),
        ],
        exception_handlers={
            SandboxError: render_sandbox_error,
            HTTPException: _render_http_error,
            Exception: _render_bug,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
