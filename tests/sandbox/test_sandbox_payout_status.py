"""CyberSource Transaction Search and Details stand-in (`/tss/v2`): a payout's status by
its code or its id, signed like the payout itself."""

from __future__ import annotations

import pytest

pytestmark = []


def test_a_code_never_sent_is_not_found(vd):
    response = vd.search("tr_never")

    assert response.status_code == 201
    found = response.json()
    assert (found["count"], found["totalCount"]) == (0, 0)
    assert "_embedded" not in found
    assert found["query"] == "clientReferenceInformation.code:tr_never"


def test_search_finds_a_payout_by_its_code(vd):
    payout = vd.payout("tr_18", amount="250.50").json()

    found = vd.search("tr_18", limit=10).json()

    assert (found["count"], found["totalCount"], found["limit"]) == (1, 1, 10)
    (summary,) = found["_embedded"]["transactionSummaries"]
    assert summary["id"] == payout["id"]
    assert summary["submitTimeUtc"] == payout["submitTimeUtc"]
    assert summary["merchantId"] == vd.keys["merchant_id"]
    assert summary["applicationInformation"] == {
        "status": "ACCEPTED",
        "reasonCode": "100",
        "rCode": "1",
    }
    assert summary["clientReferenceInformation"] == {"code": "tr_18"}
    assert summary["orderInformation"] == {
        "amountDetails": {"totalAmount": "250.50", "currency": "KES"}
    }
    assert summary["paymentInformation"] == {"card": {"suffix": "0093", "type": "001"}}


def test_search_accepts_a_quoted_code_and_a_time_window(vd):
    vd.payout("tr-19 x")

    query = (
        'clientReferenceInformation.code:"tr-19 x"'
        " AND submitTimeUtc:[NOW/DAY-7DAYS TO NOW/DAY+1DAY}"
    )
    found = vd.signed.call("POST", "/tss/v2/searches", {"query": query}).json()

    assert found["totalCount"] == 1


@pytest.mark.parametrize(
    "query",
    [
        "merchantId:abc",
        "clientReferenceInformation.code:",
        "clientReferenceInformation.code:a OR b",
        "",
    ],
)
def test_an_unsupported_query_is_400(vd, query):
    response = vd.signed.call("POST", "/tss/v2/searches", {"query": query})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_query"


def test_a_declined_payout_is_found_declined(vd, recipient_pans):
    vd.payout("tr_20", recipient_pans["declined"])

    summary = vd.search("tr_20").json()["_embedded"]["transactionSummaries"][0]

    assert summary["applicationInformation"] == {
        "status": "DECLINED",
        "reasonCode": "233",
        "rCode": "0",
    }


def test_transaction_details_by_id(vd):
    payout = vd.payout("tr_21").json()

    response = vd.transaction(payout["id"])

    assert response.status_code == 200
    details = response.json()
    assert details["id"] == payout["id"]
    assert details["status"] == "ACCEPTED"
    assert details["clientReferenceInformation"] == {"code": "tr_21"}
    assert details["reconciliationId"] == payout["reconciliationId"]
    approval = payout["processorInformation"]["approvalCode"]
    assert details["processorInformation"]["approvalCode"] == approval


def test_an_unknown_transaction_id_is_404(vd):
    response = vd.transaction("1234567890123456789012")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_status_reads_are_signed(vd):
    query = {"query": "clientReferenceInformation.code:x"}

    response = vd.client.post("/tss/v2/searches", json=query)

    assert response.status_code == 401


# faults ------------------------------------------------------------------------------
