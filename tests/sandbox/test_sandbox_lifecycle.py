"""Token lifecycle at the token service: legal moves, 409 for illegal ones, key replays."""

from __future__ import annotations

import pytest

pytestmark = []

YELLOW_PAN = "4000000000000010"


def token_in(tms, status):
    """A token brought to `status` through the token service's own calls."""
    token_ref = tms.provision(f"req_{status}", YELLOW_PAN).json()["token_ref"]
    path = {
        "ACTIVE": ["activate"],
        "SUSPENDED": ["activate", "suspend"],
        "DELETED": ["delete"],
        "INACTIVE": [],
    }[status]
    for n, operation in enumerate(path):
        change(tms, token_ref, operation, key=f"{token_ref}:{operation}:{n}")
    return token_ref


def change(tms, token_ref, operation, key):
    if operation == "delete":
        return tms.call("DELETE", f"/tms/v2/tokens/{token_ref}", key=key)
    return tms.call("POST", f"/tms/v2/tokens/{token_ref}/{operation}", {"reason": "test"}, key=key)


@pytest.mark.parametrize(
    ("start", "operation", "end"),
    [
        ("INACTIVE", "activate", "ACTIVE"),
        ("ACTIVE", "suspend", "SUSPENDED"),
        ("SUSPENDED", "resume", "ACTIVE"),
        ("INACTIVE", "delete", "DELETED"),
        ("ACTIVE", "delete", "DELETED"),
        ("SUSPENDED", "delete", "DELETED"),
    ],
)
def test_legal_move_changes_the_token_state(tms, start, operation, end):
    token_ref = token_in(tms, start)

    response = change(tms, token_ref, operation, key="k1")

    assert response.status_code == 200
    assert response.json() == {"token_ref": token_ref, "status": end}
    assert tms.token(token_ref).json()["status"] == end


@pytest.mark.parametrize(
    ("start", "operation"),
    [
        ("INACTIVE", "suspend"),
        ("INACTIVE", "resume"),
        ("ACTIVE", "activate"),
        ("ACTIVE", "resume"),
        ("SUSPENDED", "suspend"),
        ("SUSPENDED", "activate"),
        ("DELETED", "activate"),
        ("DELETED", "resume"),
        ("DELETED", "delete"),
    ],
)
def test_illegal_move_is_409_invalid_state(tms, start, operation):
    token_ref = token_in(tms, start)

    response = change(tms, token_ref, operation, key="k1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert tms.token(token_ref).json()["status"] == start


def test_same_key_replays_and_does_not_suspend_again(tms):
    token_ref = token_in(tms, "ACTIVE")
    first = change(tms, token_ref, "suspend", key=f"{token_ref}:suspend:1")
    change(tms, token_ref, "resume", key=f"{token_ref}:resume:1")

    replay = change(tms, token_ref, "suspend", key=f"{token_ref}:suspend:1")

    assert (replay.status_code, replay.json()) == (200, first.json())
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert tms.token(token_ref).json()["status"] == "ACTIVE"
    assert tms.stats()["idempotency"]["duplicate_effects"] == 0


def test_lifecycle_call_without_key_is_400(tms):
    token_ref = token_in(tms, "ACTIVE")

    response = tms.call("POST", f"/tms/v2/tokens/{token_ref}/suspend", {})

    assert response.json()["error"]["code"] == "missing_idempotency_key"


@pytest.mark.parametrize("operation", ["activate", "delete"])
def test_unknown_token_is_404(tms, operation):
    assert change(tms, "tok_nope", operation, key="k1").status_code == 404
    assert tms.token("tok_nope").status_code == 404


def test_get_token_shows_state_and_token_details(tms):
    answer = tms.provision("req_t").json()

    assert tms.token(answer["token_ref"]).json() == {
        "token_ref": answer["token_ref"],
        "status": "ACTIVE",
        "token_last4": answer["token_last4"],
        "token_expiry": answer["token_expiry"],
    }
