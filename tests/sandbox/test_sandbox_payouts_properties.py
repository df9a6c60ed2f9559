"""Properties of the payouts stand-in over large input spaces: every amount round-trips
through CyberSource's decimal string, and no sequence of sends, repeats and injected
errors pays a code twice or pays a code whose every answer was a refusal."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = []

OUTCOME_CARDS = {
    "green": "4000000000000093",
    "declined": "4000000000000002",
    "flaky": "4000000000000028",
    "no_fast_funds": "4000000000000077",
}
_settings = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def fresh(make_client, make_vd):
    return lambda: make_vd(make_client())


@_settings
@given(minor=st.integers(min_value=1, max_value=10**14 - 1))
def test_any_amount_round_trips_to_the_answer_the_search_and_the_report(fresh, minor):
    vd = fresh()
    amount = f"{minor // 100}.{minor % 100:02d}"

    answer = vd.payout("tr_amount", amount=amount).json()

    assert answer["orderInformation"]["amountDetails"]["totalAmount"] == amount
    summary = vd.search("tr_amount").json()["_embedded"]["transactionSummaries"][0]
    assert summary["orderInformation"]["amountDetails"]["totalAmount"] == amount
    report = vd.report(datetime.now(UTC).date().isoformat()).text.split("\r\n", 1)[1]
    (line,) = csv.DictReader(io.StringIO(report))
    assert line["amount"] == amount
    assert vd.stats()["payouts"]["paid_amount"] == minor


@_settings
@given(
    sends=st.lists(
        st.tuples(
            st.sampled_from(["tr_a", "tr_b", "tr_c"]),
            st.sampled_from(sorted(OUTCOME_CARDS)),
            st.booleans(),  # an injected 503 on this send
        ),
        min_size=1,
        max_size=12,
    )
)
def test_no_sequence_of_sends_pays_a_code_twice(fresh, sends):
    vd = fresh()
    card_of: dict[str, str] = {}
    answered: dict[str, str] = {}
    for code, outcome, fail in sends:
        card = card_of.setdefault(code, outcome)  # a code is always sent for one card
        fault = {"system": "payouts", "error_rate": 1 if fail else 0}
        vd.client.post("/sandbox/faults", json=fault)
        response = vd.payout(code, OUTCOME_CARDS[card])
        if response.status_code == 201:
            status = response.json()["status"]
            assert answered.setdefault(code, status) == status
        else:
            assert response.status_code == 503

    vd.client.delete("/sandbox/faults")
    payouts = vd.stats()["payouts"]
    assert payouts["made"] == len(answered)
    assert payouts["duplicate_effects"] == 0
    for code in ("tr_a", "tr_b", "tr_c"):
        assert vd.status_of(code) == answered.get(code)
        if code in answered:
            expected = "DECLINED" if card_of[code] == "declined" else "ACCEPTED"
            assert answered[code] == expected
