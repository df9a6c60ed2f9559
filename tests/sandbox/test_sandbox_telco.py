"""Telco stand-in: SIM swap dates chosen by the number's last two digits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = []


@pytest.fixture
def sim_swap(client, keys):
    def get(msisdn, api_key=None):
        token = api_key or keys["issuer_api_key"]
        return client.get(
            f"/telco/v1/subscribers/{msisdn}/sim-swap", headers={"Authorization": f"Bearer {token}"}
        )

    return get


@pytest.mark.parametrize(
    ("msisdn", "ago"),
    [("+254700000101", timedelta(hours=1)), ("+254700000102", timedelta(days=10))],
)
def test_numbers_ending_01_and_02_were_swapped_that_long_ago(sim_swap, msisdn, ago):
    body = sim_swap(msisdn).json()

    swapped = datetime.fromisoformat(body["last_swap_at"])
    assert body["msisdn"] == msisdn
    assert abs((datetime.now(UTC) - swapped) - ago) < timedelta(seconds=30)


def test_number_ending_03_is_unavailable(sim_swap):
    response = sim_swap("+254700000103")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"


def test_other_numbers_were_never_swapped(sim_swap):
    assert sim_swap("+254700000100").json() == {"msisdn": "+254700000100", "last_swap_at": None}


def test_telco_wants_the_bearer_key(sim_swap):
    assert sim_swap("+254700000100", api_key="nope").status_code == 401
