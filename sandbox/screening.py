"""Sanctions screening stand-in: a recipient's name and country -> clear, review or hit.

A name containing SANCTIONED is a hit, one containing REVIEW is for review (both checks
case-insensitive; a hit wins); anything else is clear. A screening is a read: it moves
nothing, so it takes no idempotency key, and each call is a new screening with its id.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .auth import admit_bearer
from .errors import SandboxError, read_json_object
from .state import SandboxState
from .visa_direct_state import Screening, iso_now

MAX_NAME_LENGTH = 140
MAX_REFERENCE_LENGTH = 64
_COUNTRY = re.compile(r"^[A-Z]{2}$")


async def _admit(request: Request, operation: str) -> SandboxState:
    state, _ = await admit_bearer(request, "screening", operation, lambda c: c.screening_api_key)
    return state


def result_for(name: str) -> str:
    upper = name.upper()
    if "SANCTIONED" in upper:
        return "hit"
    if "REVIEW" in upper:
        return "review"
    return "clear"


async def screen(request: Request) -> JSONResponse:
    state = await _admit(request, "screen")
    payload = await read_json_object(request)
    name = payload.get("name")
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_NAME_LENGTH
        or any(unicodedata.category(char) == "Cc" for char in name)
    ):
        raise SandboxError(
            400, "invalid_name", f"name must be text of 1 to {MAX_NAME_LENGTH} characters"
        )
    country = payload.get("country")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise SandboxError(400, "invalid_country", "country must be ISO 3166 alpha-2, e.g. KE")
    reference = payload.get("reference")
    if reference is not None and (
        not isinstance(reference, str) or not reference or len(reference) > MAX_REFERENCE_LENGTH
    ):
        raise SandboxError(400, "invalid_request", "reference must be a short string")
    screening = Screening("scr_" + secrets.token_hex(10), result_for(name), reference, iso_now())
    with state.lock:
        state.visa_direct.screenings[screening.screening_id] = screening
    return JSONResponse(screening.public())


async def get_screening(request: Request) -> JSONResponse:
    state = await _admit(request, "get_screening")
    with state.lock:
        screening = state.visa_direct.screenings.get(request.path_params["screening_id"])
        if screening is None:
            raise SandboxError(404, "screening_not_found", "no screening with this id")
        return JSONResponse(screening.public())


routes = [
    Route("/v1/screenings", screen, methods=["POST"]),
    Route("/v1/screenings/{screening_id}", get_screening, methods=["GET"]),
]
