"""Telco stand-in: the date of a subscriber's last SIM swap, a fraud signal for eligibility.

By the number's last two digits: 01 swapped an hour ago, 02 ten days ago, 03 answers
503, anything else never swapped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .auth import admit_bearer
from .errors import SandboxError

_MSISDN = re.compile(r"^\+?\d{8,15}$")
_SWAP_AGO = {"01": timedelta(hours=1), "02": timedelta(days=10)}


async def sim_swap(request: Request) -> JSONResponse:
    await admit_bearer(request, "telco", "sim_swap", lambda c: c.issuer_api_key)
    msisdn = request.path_params["msisdn"]
    if not _MSISDN.match(msisdn):
        raise SandboxError(400, "invalid_msisdn", "msisdn must be an E.164 number")
    if msisdn.endswith("03"):
        raise SandboxError(503, "unavailable", "telco temporarily unavailable")
    ago = _SWAP_AGO.get(msisdn[-2:])
    last_swap_at = None
    if ago is not None:
        moment = datetime.now(UTC).replace(microsecond=0) - ago
        last_swap_at = moment.isoformat().replace("+00:00", "Z")
    return JSONResponse({"msisdn": msisdn, "last_swap_at": last_swap_at})


routes = [Route("/v1/subscribers/{msisdn}/sim-swap", sim_swap, methods=["GET"])]
