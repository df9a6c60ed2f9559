"""The payout network's daily settlement report: a signed CSV download, one line per
settled payout, with controls that inject an unknown line or change a line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = []

COLUMNS = [
    "request_id",
    "client_reference_code",
    "reconciliation_id",
    "amount",
    "currency",
    "status",
    "submit_time_utc",
]


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _path(day: str) -> str:
    query = f"reportDate={day}&reportName=PayoutSettlementDetailReport"
    return f"/reporting/v3/report-downloads?{query}"


def _rows(response):
    assert response.status_code == 200, response.text
    title, *lines = response.text.splitlines(keepends=True)
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    return title, rows


def test_the_report_lists_the_days_settled_payouts(vd, recipient_pans):
    paid = vd.payout("tr_1", amount="1500.00").json()
    vd.payout("tr_2", recipient_pans["declined"])
    vd.payout("tr_3", recipient_pans["pending"])

    response = vd.report(_today())

    assert response.headers["content-type"].startswith("text/csv")
    title, rows = _rows(response)
    assert title.strip() == (
        f"Payout Settlement Detail Report,1.0,{_today()} to {_today()},{vd.keys['merchant_id']}"
    )
    assert response.text.splitlines()[1].split(",") == COLUMNS
    assert rows == [
        {
            "request_id": paid["id"],
            "client_reference_code": "tr_1",
            "reconciliation_id": paid["reconciliationId"],
            "amount": "1500.00",
            "currency": "KES",
            "status": "ACCEPTED",
            "submit_time_utc": paid["submitTimeUtc"],
        }
    ]


def test_a_pending_payout_is_listed_once_approved(make_client, make_vd, recipient_pans, wait):
    vd = make_vd(make_client(SANDBOX_PAYOUT_PENDING_SECONDS="0.1"))
    vd.payout("tr_4", recipient_pans["pending"])

    assert wait(lambda: _rows(vd.report(_today()))[1])
    assert [row["client_reference_code"] for row in _rows(vd.report(_today()))[1]] == ["tr_4"]


def test_a_day_without_payouts_has_only_the_headers(vd):
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    vd.payout("tr_5")

    title, rows = _rows(vd.report(yesterday))

    assert rows == []
    assert yesterday in title


def test_an_injected_unknown_line_is_listed(vd):
    vd.payout("tr_6")
    response = vd.client.post(
        "/sandbox/settlement/unknown-lines",
        json={"date": _today(), "client_reference_code": "tr_ghost", "amount": 99_900},
    )

    assert response.status_code == 201
    _, rows = _rows(vd.report(_today()))
    assert [(r["client_reference_code"], r["amount"]) for r in rows] == [
        ("tr_6", "1500.00"),
        ("tr_ghost", "999.00"),
    ]
    assert rows[1]["request_id"] and rows[1]["currency"] == "KES"


def test_a_changed_amount_shows_in_the_report_only(vd):
    vd.payout("tr_7", amount="100.00")

    response = vd.client.post(
        "/sandbox/settlement/changes",
        json={"date": _today(), "client_reference_code": "tr_7", "amount": 10_050},
    )

    assert response.status_code == 200
    _, rows = _rows(vd.report(_today()))
    assert rows[0]["amount"] == "100.50"
    summary = vd.search("tr_7").json()["_embedded"]["transactionSummaries"][0]
    assert summary["orderInformation"]["amountDetails"]["totalAmount"] == "100.00"


def test_a_line_can_be_left_out(vd):
    vd.payout("tr_8")
    vd.payout("tr_9")

    vd.client.post(
        "/sandbox/settlement/changes",
        json={"date": _today(), "client_reference_code": "tr_8", "omit": True},
    )

    _, rows = _rows(vd.report(_today()))
    assert [r["client_reference_code"] for r in rows] == ["tr_9"]


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2020-01-01", "client_reference_code": "tr_10", "amount": 1},
        {"client_reference_code": "tr_nope", "amount": 1},
    ],
)
def test_changing_a_line_that_does_not_exist_is_404(vd, body):
    vd.payout("tr_10")

    response = vd.client.post("/sandbox/settlement/changes", json={"date": _today(), **body})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "payout_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"date": "yesterday", "client_reference_code": "x", "amount": 1},
        {"date": "2025-01-01", "client_reference_code": "", "amount": 1},
        {"date": "2025-01-01", "client_reference_code": "x", "amount": 1.5},
        {"date": "2025-01-01", "client_reference_code": "x", "amount": 1, "currency": "kes"},
    ],
)
def test_a_bad_unknown_line_is_400(vd, body):
    response = vd.client.post("/sandbox/settlement/unknown-lines", json=body)

    assert response.status_code == 400


def test_a_future_day_has_no_report(vd):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()

    response = vd.report(tomorrow)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "report_not_found"


def test_an_unknown_report_name_is_404(vd):
    response = vd.report(_today(), name="TransactionRequestReport")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "report_not_found"


@pytest.mark.parametrize("day", ["2025-13-01", "01-01-2025", ""])
def test_a_bad_date_is_400(vd, day):
    response = vd.report(day)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_download_is_signed(vd):
    response = vd.client.get(_path(_today()))

    assert response.status_code == 401
    assert vd.stats()["signature_failures_by_system"] == {"reporting": 1}


def test_the_signature_covers_the_query_string(vd):
    headers = vd.signed.signer.headers("GET", _path("2020-01-01"))

    response = vd.client.get(_path(_today()), headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "signature_mismatch"


def test_reset_forgets_injected_lines(vd):
    vd.client.post(
        "/sandbox/settlement/unknown-lines",
        json={"date": _today(), "client_reference_code": "tr_ghost", "amount": 100},
    )

    vd.client.post("/sandbox/reset")

    assert _rows(vd.report(_today()))[1] == []


def test_report_downloads_are_counted(vd):
    vd.report(_today())

    stats = vd.stats()

    assert stats["calls"]["reporting"] == {"report_download": 1}
