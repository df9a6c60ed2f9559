"""Client of the payout network's daily settlement report (CyberSource Reporting's
`PayoutSettlementDetailReport`): download one UTC day's CSV and read it strictly.

The file is a title line (report name, version, date range, merchant id), a header line,
then one line per payout settled that day. A file that is not such a report (no title,
another report or day, a required column missing, not UTF-8) is `ReportMalformed`. A
line that cannot be read (a field count that differs from the header's, an amount that
is not a decimal of two places) is kept with its `problem` named: no line is ever
dropped, so reconciliation can flag it. Extra columns are kept as they came.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django.conf import settings

from core.observability.redaction import MASK_PAN, find_pans
from core.outside import http_signature
from core.outside.client import OutsideClient
from core.outside.http import PermanentError, TransientError

SYSTEM = "settlement_reports"
REPORT_NAME = "PayoutSettlementDetailReport"
REPORT_TITLE = "Payout Settlement Detail Report"
REQUIRED_COLUMNS = ("request_id", "client_reference_code", "amount", "currency", "status")
PAID_STATUSES = frozenset({"ACCEPTED"})
MAX_FIELD_LENGTH = 256  # longer values are cut (and the line marked) before they are stored
_AMOUNT = re.compile(r"^(0|[1-9]\d{0,15})\.(\d{2})$")


class ReportMalformed(PermanentError):
    """The answer is not the day's settlement report: nothing of it can be trusted."""


class ReportNotReady(TransientError):
    """The network has no report for that day yet (404): ask again on the next run."""


@dataclass(frozen=True)
class ReportLine:
    number: int  # the line's number in the file (the title is 1, the header 2)
    fields: dict[str, str]  # every column as it came (PANs masked), extras included
    request_id: str = ""
    code: str = ""  # client_reference_code: our transfer id
    amount: int | None = None  # minor units; None when unreadable
    currency: str = ""
    status: str = ""
    problem: str = ""  # why the line could not be read, "" when it could

    @property
    def paid(self) -> bool:
        return self.status in PAID_STATUSES

    def stored(self) -> dict:
        """What a mismatch keeps of the line: all of it."""
        return {"line": self.number, "fields": dict(self.fields),
                **({"problem": self.problem} if self.problem else {})}


@dataclass(frozen=True)
class SettlementReport:
    day: date
    merchant_id: str
    columns: tuple[str, ...]
    lines: list[ReportLine] = field(default_factory=list)


def parse_amount(text: str) -> int | None:
    match = _AMOUNT.match(text)
    return int(match.group(1)) * 100 + int(match.group(2)) if match else None


def _malformed(why: str) -> ReportMalformed:
    return ReportMalformed("settlement_reports_malformed", f"settlement report: {why}",
                           system=SYSTEM)


def _clean(value: str) -> tuple[str, bool]:
    """A field as stored: no card number (the report has none; a line we do not know may
    carry anything) and bounded. True when it had to be changed. Only numbers standing
    alone count: a reconciliation id is hex, and its digit runs are not card numbers."""
    cleaned, position = [], 0
    for start, end in find_pans(value, standalone=True):
        cleaned += [value[position:start], MASK_PAN]
        position = end
    text = ("".join(cleaned) + value[position:])[:MAX_FIELD_LENGTH]
    return text, text != value


def _check_title(row: list[str], day: date, merchant_id: str | None) -> str:
    if len(row) < 4 or row[0].strip() != REPORT_TITLE:
        raise _malformed("the first line is not the report's title")
    if row[2].strip() != f"{day} to {day}":
        raise _malformed(f"the report covers {row[2].strip()[:40]!r}, not {day}")
    if merchant_id is not None and row[3].strip() != merchant_id:
        raise _malformed("the report is another merchant's")
    return row[3].strip()


def parse_report(content: bytes, day: date, merchant_id: str | None = None) -> SettlementReport:
    """The report for `day` (of `merchant_id`, when given), every line kept;
    ReportMalformed when it is not one."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _malformed("not UTF-8") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise _malformed(f"not CSV ({exc})") from None
    if len(rows) < 2:
        raise _malformed("no title and header lines")
    merchant_id = _check_title(rows[0], day, merchant_id)
    columns = tuple(name.strip() for name in rows[1])
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise _malformed(f"columns missing: {', '.join(missing)}")
    if len(set(columns)) != len(columns):
        raise _malformed("a column appears twice")
    lines = [_line(number, row, columns) for number, row in enumerate(rows[2:], start=3)
             if row]  # the csv module reads an empty line as []: it holds no data
    return SettlementReport(day=day, merchant_id=merchant_id, columns=columns, lines=lines)


def _line(number: int, row: list[str], columns: tuple[str, ...]) -> ReportLine:
    problems = []
    if len(row) != len(columns):
        problems.append(f"{len(row)} fields, the header has {len(columns)}")
    # Fields beyond the header's are kept under their position, never lost.
    names = list(columns) + [f"field_{i + 1}" for i in range(len(columns), len(row))]
    fields: dict[str, str] = {}
    for name, value in zip(names, row):
        fields[name], changed = _clean(value)
        if changed:
            problems.append(f"{name} masked or cut")
    amount = parse_amount(fields.get("amount", ""))
    if amount is None:
        problems.append("amount is not a decimal with two places")
    code = fields.get("client_reference_code", "").strip()
    if not code:
        problems.append("no client_reference_code")
    return ReportLine(number=number, fields=fields, request_id=fields.get("request_id", "").strip(),
                      code=code, amount=amount, currency=fields.get("currency", "").strip(),
                      status=fields.get("status", "").strip(), problem="; ".join(problems))


class SettlementReportClient(OutsideClient):
    """Downloads a day's report, signed with the merchant's HTTP Signature (CyberSource
    shares one merchant key across its APIs); timeouts from the registry entry (its own
    read timeout, SETTLEMENT_REPORTS_READ_TIMEOUT: a day's file can be long)."""

    system = SYSTEM

    def download(self, day: date) -> SettlementReport:
        query = urlencode({"reportDate": day.isoformat(), "reportName": REPORT_NAME,
                           "organizationId": settings.TOKEN_SERVICE_MERCHANT_ID})
        path = f"/v3/report-downloads?{query}"
        headers = http_signature.sign_request(
            method="GET", url=self.base_url + path, body=None,
            merchant_id=settings.TOKEN_SERVICE_MERCHANT_ID,
            key_id=settings.TOKEN_SERVICE_KEY_ID,
            shared_secret_b64=settings.TOKEN_SERVICE_SHARED_SECRET,
        )
        headers["Accept"] = "text/csv"
        try:
            reply = self.call("report_download", "GET", path, headers=headers, ok=(200,))
        except PermanentError as exc:
            if exc.status == 404:
                raise ReportNotReady("settlement_reports_not_ready",
                                     f"no settlement report for {day} yet", system=SYSTEM,
                                     status=404) from None
            raise
        return parse_report(reply.content, day, settings.TOKEN_SERVICE_MERCHANT_ID)
