"""The payout network's daily settlement report (CyberSource Reporting API shaped).

`GET /reporting/v3/report-downloads?reportDate=YYYY-MM-DD&reportName=PayoutSettlementDetailReport`
answers a CSV file as CyberSource's downloadable reports are laid out: a title line
(report name, version, date range, merchant id), a header line, then one line per payout
settled that day (UTC). Signed like every CyberSource call. Controls under /sandbox let a
test inject a line the service never sent, change a line's amount, or leave a line out.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import SandboxError, read_json_object
from .signed import admit_signed
from .state import SandboxState
from .visa_direct_state import CURRENCY, render_amount

SYSTEM = "reporting"
REPORT_NAME = "PayoutSettlementDetailReport"
REPORT_TITLE = "Payout Settlement Detail Report"
REPORT_VERSION = "1.0"
COLUMNS = (
    "request_id",
    "client_reference_code",
    "reconciliation_id",
    "amount",
    "currency",
    "status",
    "submit_time_utc",
)
MAX_AMOUNT = 10**12
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: object) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise SandboxError(400, "invalid_request", "the date must be YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SandboxError(400, "invalid_request", "the date must be YYYY-MM-DD") from None


def render_csv(title: str, lines: list[dict[str, str]]) -> str:
    out = io.StringIO()
    out.write(title + "\r\n")
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue()


async def download_report(request: Request) -> Response:
    state, _, _ = await admit_signed(request, SYSTEM, "report_download")
    day = _day(request.query_params.get("reportDate", ""))
    name = request.query_params.get("reportName")
    if not name:
        raise SandboxError(400, "invalid_request", "reportName is required")
    merchant_id = state.config.credentials.merchant_id
    organization = request.query_params.get("organizationId")
    if (
        name != REPORT_NAME
        or day > datetime.now(UTC).date()
        or (organization is not None and organization != merchant_id)
    ):
        raise SandboxError(404, "report_not_found", "no such report for this date")
    with state.lock:
        lines = state.visa_direct.settlement_lines(day)
    title = f"{REPORT_TITLE},{REPORT_VERSION},{day} to {day},{merchant_id}"
    return Response(
        render_csv(title, lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{REPORT_NAME}-{day}.csv"'},
    )


routes = [Route("/v3/report-downloads", download_report, methods=["GET"])]


# controls (/sandbox/settlement/...) ---------------------------------------------------


def _code(payload: dict[str, Any]) -> str:
    code = payload.get("client_reference_code")
    if not isinstance(code, str) or not code or len(code) > 50:
        raise SandboxError(400, "invalid_request", "client_reference_code is required")
    return code


def _amount(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise SandboxError(
            400, "invalid_amount", "amount must be a positive integer of minor units"
        )
    return value


async def add_unknown_line(request: Request) -> JSONResponse:
    """A line for a payout the service never sent (or one it believes declined)."""
    state: SandboxState = request.app.state.sandbox
    payload = await read_json_object(request)
    day = _day(payload.get("date"))
    code = _code(payload)
    amount = _amount(payload.get("amount"))
    currency = payload.get("currency", CURRENCY)
    if currency != CURRENCY:
        raise SandboxError(400, "invalid_currency", f"currency must be {CURRENCY}")
    with state.lock:
        world = state.visa_direct
        line = {
            "request_id": payload.get("request_id") or world.new_payout_id(),
            "client_reference_code": code,
            "reconciliation_id": payload.get("reconciliation_id") or "",
            "amount": render_amount(amount),
            "currency": currency,
            "status": payload.get("status") or "ACCEPTED",
            "submit_time_utc": payload.get("submit_time_utc") or f"{day}T12:00:00Z",
        }
        if not all(isinstance(value, str) for value in line.values()):
            raise SandboxError(400, "invalid_request", "line fields must be strings")
        world.unknown_lines.setdefault(day, []).append(line)
    return JSONResponse(line, status_code=201)


async def change_line(request: Request) -> JSONResponse:
    """Show another amount for a payout's line, or leave the line out, in the report only."""
    state: SandboxState = request.app.state.sandbox
    payload = await read_json_object(request)
    day = _day(payload.get("date"))
    code = _code(payload)
    omit = payload.get("omit", False)
    if not isinstance(omit, bool):
        raise SandboxError(400, "invalid_request", "omit must be true or false")
    change: dict[str, Any] = {"omit": True} if omit else {"amount": _amount(payload.get("amount"))}
    with state.lock:
        payout = state.visa_direct.payouts_by_code.get(code)
        if payout is None or payout.day != day:
            raise SandboxError(404, "payout_not_found", "no payout with this code on this date")
        state.visa_direct.line_changes[code] = change
    return JSONResponse({"date": day.isoformat(), "client_reference_code": code, **change})


control_routes = [
    Route("/settlement/unknown-lines", add_unknown_line, methods=["POST"]),
    Route("/settlement/changes", change_line, methods=["POST"]),
]
