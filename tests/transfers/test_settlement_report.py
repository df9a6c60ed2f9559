"""The settlement report client reads the network's CSV strictly: a file that is not the
day's report is a coded error, a line it cannot read is kept with its problem, extra
columns are kept, an empty day is an empty report; the download is signed and bounded by
the entry's timeouts."""

from datetime import date

import pytest
import requests

from core.outside.http import OutsideTimeout
from sandbox.settlement import COLUMNS, render_csv
from transfers.settlement import (
    ReportMalformed,
    ReportNotReady,
    SettlementReportClient,
    parse_amount,
    parse_report,
)

DAY = date(2026, 11, 30)
TITLE = f"Payout Settlement Detail Report,1.0,{DAY} to {DAY},merchant_1"
CODE = "0b7c6f0e-5a55-4e1a-9d3e-0f2a2b1c9e11"


def _line(**change) -> dict:
    line = {"request_id": "7000000000000000000001", "client_reference_code": CODE,
            "reconciliation_id": "0b7c6f0e5a554e1a9d3e0f2a2", "amount": "1500.00",
            "currency": "KES", "status": "ACCEPTED", "submit_time_utc": f"{DAY}T12:00:00Z"}
    return {**line, **change}


def _csv(*lines, title=TITLE) -> bytes:
    return render_csv(title, list(lines)).encode()


def test_the_sandbox_layout_reads_as_one_line_per_payout():
    report = parse_report(_csv(_line(), _line(client_reference_code="other", amount="0.05")), DAY)
    assert report.merchant_id == "merchant_1" and report.columns == COLUMNS
    first, second = report.lines
    assert (first.number, first.code, first.amount, first.currency, first.paid, first.problem) \
        == (3, CODE, 150_000, "KES", True, "")
    assert second.amount == 5 and second.code == "other"


def test_an_empty_day_is_a_report_without_lines():
    report = parse_report(_csv(), DAY)
    assert report.lines == []


@pytest.mark.parametrize("content, why", [
    (b"", "no title"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"request_id,amount\r\n1,2.00\r\n", "title"),
    (_csv(title=f"Payout Settlement Detail Report,1.0,2026-11-29 to 2026-11-29,m"), "covers"),
    (_csv(title=f"Payment Batch Detail Report,1.0,{DAY} to {DAY},m"), "title"),
    (TITLE.encode() + b"\r\nrequest_id,client_reference_code,currency,status\r\n", "amount"),
    (TITLE.encode() + b'\r\nrequest_id,"client_reference_code\r\n', "not CSV"),
])
def test_a_file_that_is_not_the_days_report_is_a_coded_error(content, why):
    with pytest.raises(ReportMalformed) as caught:
        parse_report(content, DAY)
    assert caught.value.code == "settlement_reports_malformed"
    assert why in caught.value.message


def test_another_merchants_report_is_refused():
    with pytest.raises(ReportMalformed, match="another merchant"):
        parse_report(_csv(_line()), DAY, merchant_id="merchant_2")


def test_extra_columns_are_kept_with_the_line():
    header = ",".join(COLUMNS) + ",settlement_batch"
    row = ",".join(_line().values()) + ",B-77"
    report = parse_report(f"{TITLE}\r\n{header}\r\n{row}\r\n".encode(), DAY)
    (line,) = report.lines
    assert line.problem == "" and line.fields["settlement_batch"] == "B-77"


def test_a_line_that_cannot_be_read_is_kept_with_its_problem():
    header = ",".join(COLUMNS)
    short = "7000000000000000000009,abc,,12.5"
    long_ = ",".join(_line().values()) + ",surplus"
    report = parse_report(f"{TITLE}\r\n{header}\r\n{short}\r\n{long_}\r\n".encode(), DAY)
    first, second = report.lines
    assert "4 fields, the header has 7" in first.problem
    assert "amount is not a decimal" in first.problem and first.amount is None
    assert first.fields["client_reference_code"] == "abc"
    assert "8 fields" in second.problem and second.fields["field_8"] == "surplus"


def test_a_card_number_in_a_line_is_masked_before_it_is_kept():
    report = parse_report(_csv(_line(reconciliation_id="4111111111111111")), DAY)
    (line,) = report.lines
    assert "4111111111111111" not in str(line.stored())
    assert line.fields["reconciliation_id"] == "[PAN]"
    assert "reconciliation_id masked or cut" in line.problem


@pytest.mark.parametrize("text, minor", [("1500.00", 150_000), ("0.01", 1), ("0.00", 0),
                                         ("1500", None), ("15.5", None), ("-1.00", None),
                                         ("1,500.00", None), ("01.00", None), ("", None)])
def test_amounts_are_decimals_with_two_places(text, minor):
    assert parse_amount(text) == minor


class _Session:
    """The HTTP client's session, answering one scripted response (the only stub)."""

    def __init__(self, status=200, content=b"", error=None):
        self.status, self.content, self.error = status, content, error
        self.calls = []

    def request(self, method, url, **kwargs):
        self.calls.append((method, url, kwargs))
        if self.error:
            raise self.error
        reply = requests.Response()
        reply.status_code = self.status
        reply._content = self.content
        return reply


def _client(session, settings):
    settings.TOKEN_SERVICE_MERCHANT_ID = "merchant_1"
    client = SettlementReportClient()
    client.session = session
    return client


def test_the_download_is_signed_asks_for_csv_and_uses_the_entrys_timeouts(settings):
    session = _Session(content=_csv(_line()))
    report = _client(session, settings).download(DAY)
    assert [line.code for line in report.lines] == [CODE]
    method, url, kwargs = session.calls[0]
    assert method == "GET"
    assert url.startswith(settings.SETTLEMENT_REPORTS_BASE_URL + "/v3/report-downloads?")
    assert f"reportDate={DAY}" in url and "reportName=PayoutSettlementDetailReport" in url
    headers = kwargs["headers"]
    assert headers["Accept"] == "text/csv" and headers["v-c-merchant-id"] == "merchant_1"
    assert 'headers="host date request-target v-c-merchant-id"' in headers["Signature"]
    assert kwargs["timeout"] == (settings.OUTSIDE_CONNECT_TIMEOUT,
                                 settings.SETTLEMENT_REPORTS_READ_TIMEOUT)


def test_no_report_yet_is_a_transient_not_ready(settings):
    session = _Session(status=404, content=b'{"error": {"code": "report_not_found"}}')
    with pytest.raises(ReportNotReady) as caught:
        _client(session, settings).download(DAY)
    assert caught.value.code == "settlement_reports_not_ready"


def test_a_timeout_is_the_systems_timeout(settings):
    with pytest.raises(OutsideTimeout) as caught:
        _client(_Session(error=requests.Timeout()), settings).download(DAY)
    assert caught.value.code == "settlement_reports_timeout"


def test_a_json_answer_instead_of_the_file_is_malformed(settings):
    session = _Session(content=b'{"reportName": "PayoutSettlementDetailReport"}')
    with pytest.raises(ReportMalformed):
        _client(session, settings).download(DAY)


def test_digits_inside_a_hex_reconciliation_id_are_not_taken_for_a_card_number():
    report = parse_report(_csv(_line(reconciliation_id="ab4111111111111111cd")), DAY)
    (line,) = report.lines
    assert line.fields["reconciliation_id"] == "ab4111111111111111cd" and line.problem == ""
