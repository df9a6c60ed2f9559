"""The sandbox ASGI app: every outside system under its own prefix, plus /sandbox controls.

Which systems, where, and which module serves each come from core/outside/registry.py
(`mount`, `sandbox_routes`, `sandbox_controls`); a new system's sandbox module is named
there, not here.

`create_app(config)` builds an isolated instance (tests make one each); the module
attribute `app` is built from the environment on first access, so importing this module
reads no key file.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from core.outside import registry

from . import control
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


def _routes(reference: str) -> list:
    """The routes a registry entry names, as "module:attribute"."""
    module, _, attribute = reference.partition(":")
    return list(getattr(importlib.import_module(module), attribute))


def system_mounts() -> list[Mount]:
    """One mount per outside system in the registry, at the system's mount. Each
    CyberSource API keeps its real first path segment (/tms, /pts, /tss, /reporting), so
    a signed request-target is the real one."""
    return [Mount(system.mount, routes=_routes(system.sandbox_routes))
            for system in registry.systems()]


def control_routes() -> list:
    """/sandbox: the shared controls plus each system's own (a registry entry's
    `sandbox_controls`)."""
    extra = [route for system in registry.systems() if system.sandbox_controls
             for route in _routes(system.sandbox_controls)]
    return [*control.routes, *extra]


def create_app(config: SandboxConfig | None = None) -> Starlette:
    config = config or SandboxConfig.from_env()
    state = SandboxState(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.cancel_background()

    app = Starlette(
        routes=[*system_mounts(), Mount("/sandbox", routes=control_routes())],
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
