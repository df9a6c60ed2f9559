"""The toy system's sandbox module: its routes, mounted by sandbox/app.py from the
registry entry."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def _echo(request: Request) -> JSONResponse:
    if request.headers.get("Authorization") != "Bearer toy-key":
        return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
    return JSONResponse({"said": request.path_params["text"]})


routes = [Route("/v1/echo/{text}", _echo)]
