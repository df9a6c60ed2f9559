"""Sanctions screening stand-in: a recipient's name and country -> clear, review or hit."""

from __future__ import annotations

import pytest

pytestmark = []


@pytest.mark.parametrize(
    ("name", "result"),
    [
        ("JANE WANJIKU", "clear"),
        ("JANE REVIEW WANJIKU", "review"),
        ("jane review", "review"),
        ("SANCTIONED PERSON", "hit"),
        ("Mr Sanctioned", "hit"),
        ("REVIEW SANCTIONED", "hit"),
    ],
)
def test_the_name_decides_the_result(vd, name, result):
    response = vd.screen(name)

    assert response.status_code == 200
    body = response.json()
    assert body["result"] == result
    assert body["screening_id"].startswith("scr_")
    assert body["screened_at"].endswith("Z")


def test_a_screening_carries_its_reference_and_can_be_read_again(vd):
    screening = vd.screen("JANE REVIEW", reference="tr_1").json()

    response = vd.client.get(
        f"/screening/v1/screenings/{screening['screening_id']}",
        headers={"Authorization": f"Bearer {vd.keys['screening_api_key']}"},
    )

    assert response.status_code == 200
    assert response.json() == screening
    assert screening["reference"] == "tr_1"


def test_an_unknown_screening_is_404(vd):
    response = vd.client.get(
        "/screening/v1/screenings/scr_nope",
        headers={"Authorization": f"Bearer {vd.keys['screening_api_key']}"},
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "screening_not_found"


@pytest.mark.parametrize("name", ["", "   ", "JANE\nDOE", "JANE\u0000", None, 42, "x" * 141])
def test_a_bad_name_is_400(vd, name):
    response = vd.screen(name)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_name"


@pytest.mark.parametrize("country", ["Kenya", "ke", "KEN", None])
def test_a_bad_country_is_400(vd, country):
    response = vd.screen("JANE", country)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_country"


def test_a_wrong_bearer_key_is_401(vd):
    response = vd.client.post(
        "/screening/v1/screenings",
        json={"name": "JANE", "country": "KE"},
        headers={"Authorization": f"Bearer {vd.keys['gateway_api_key']}"},
    )

    assert response.status_code == 401


def test_an_injected_error_is_503(vd):
    vd.client.post("/sandbox/faults", json={"system": "screening", "error_rate": 1})

    assert vd.screen("JANE").status_code == 503


def test_screenings_are_counted_by_result(vd):
    for name in ("A", "B", "A REVIEW", "SANCTIONED"):
        vd.screen(name)

    stats = vd.stats()

    assert stats["screening"] == {"results": {"clear": 2, "review": 1, "hit": 1}}
    assert stats["calls"]["screening"] == {"screen": 4}
