"""Wallet-side token events: the sandbox changes the token and sends a signed webhook."""

from __future__ import annotations

import json

import pytest

pytestmark = []


@pytest.fixture
def token_ref(hooked_tms):
    return hooked_tms.provision("req_evt").json()["token_ref"]


def send_event(client, token_ref, event_type, **extra):
    return client.post(f"/sandbox/tokens/{token_ref}/events", json={"type": event_type, **extra})


def test_suspend_event_suspends_the_token_and_delivers_a_signed_webhook(
    hooked_tms, token_ref, receiver, webhook_is_signed
):
    response = send_event(hooked_tms.client, token_ref, "token.suspended")

    assert response.status_code == 202
    delivery = receiver.wait_for(1)[0]
    event = json.loads(delivery["body"])
    assert webhook_is_signed(delivery)
    assert event["id"] == response.json()["event_id"]
    assert (event["type"], event["data"]) == (
        "token.suspended",
        {"token_ref": token_ref, "status": "SUSPENDED"},
    )
    assert hooked_tms.token(token_ref).json()["status"] == "SUSPENDED"


def test_a_lifecycle_event_names_its_initiator_when_asked(hooked_tms, token_ref, receiver):
    response = send_event(hooked_tms.client, token_ref, "token.suspended", initiator="issuer")
    assert response.status_code == 202
    event = json.loads(receiver.wait_for(1)[0]["body"])
    assert event["data"] == {"token_ref": token_ref, "status": "SUSPENDED", "initiator": "issuer"}


@pytest.mark.parametrize("initiator", ["bank", 7])
def test_an_unknown_initiator_is_refused(hooked_tms, token_ref, initiator):
    response = send_event(hooked_tms.client, token_ref, "token.suspended", initiator=initiator)
    assert response.status_code == 400
    assert hooked_tms.token(token_ref).json()["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("events", "status"),
    [
        (["token.suspended", "token.resumed"], "ACTIVE"),
        (["token.deleted"], "DELETED"),
        (["token.suspended", "token.deleted"], "DELETED"),
    ],
)
def test_events_move_the_token(hooked_tms, token_ref, receiver, events, status):
    for event_type in events:
        assert send_event(hooked_tms.client, token_ref, event_type).status_code == 202

    sent = [json.loads(d["body"]) for d in receiver.wait_for(len(events))]
    assert [e["type"] for e in sent] == events
    assert sent[-1]["data"]["status"] == status
    assert hooked_tms.token(token_ref).json()["status"] == status


def test_updated_event_changes_last_four_and_expiry(hooked_tms, token_ref, receiver):
    send_event(
        hooked_tms.client, token_ref, "token.updated", token_last4="4321", token_expiry="09/31"
    )

    event = json.loads(receiver.wait_for(1)[0]["body"])
    assert event["data"] == {"token_ref": token_ref, "token_last4": "4321", "token_expiry": "09/31"}
    assert hooked_tms.token(token_ref).json()["token_last4"] == "4321"


def test_event_the_token_state_does_not_allow_is_409(hooked_tms, token_ref, receiver):
    response = send_event(hooked_tms.client, token_ref, "token.resumed")

    assert response.status_code == 409
    assert receiver.received == []


def test_unknown_event_type_is_400(hooked_tms, token_ref):
    assert send_event(hooked_tms.client, token_ref, "token.exploded").status_code == 400


def test_event_for_unknown_token_is_404(hooked_tms):
    assert send_event(hooked_tms.client, "tok_nope", "token.deleted").status_code == 404


def test_undelivered_event_is_returned_signed_and_not_sent(
    hooked_tms, token_ref, receiver, webhook_is_signed
):
    response = send_event(hooked_tms.client, token_ref, "token.suspended", deliver=False)

    built = response.json()
    assert response.status_code == 200
    assert webhook_is_signed({"headers": built["headers"], "body": built["body"].encode()})
    assert json.loads(built["body"])["id"] == built["event_id"]
    events = hooked_tms.client.get("/sandbox/webhooks").json()["events"]
    assert [(e["id"], e["delivery"]) for e in events if e["type"] == "token.suspended"] == [
        (built["event_id"], "not_sent")
    ]
    assert receiver.received == []


def test_replay_resends_the_event_verbatim(hooked_tms, token_ref, receiver):
    event_id = send_event(hooked_tms.client, token_ref, "token.suspended").json()["event_id"]
    original = receiver.wait_for(1)[0]

    response = hooked_tms.client.post("/sandbox/webhooks/replay", json={"event_id": event_id})

    replayed = receiver.wait_for(2)[1]
    assert response.json() == {"event_id": event_id, "status_code": 200}
    assert replayed["body"] == original["body"]
    for header in ("X-Webhook-Timestamp", "X-Webhook-Signature"):
        assert replayed["headers"][header] == original["headers"][header]


def test_replay_can_resign_with_a_fresh_timestamp(
    hooked_tms, token_ref, receiver, webhook_is_signed
):
    event_id = send_event(hooked_tms.client, token_ref, "token.deleted", deliver=False).json()[
        "event_id"
    ]

    hooked_tms.client.post("/sandbox/webhooks/replay", json={"event_id": event_id, "resign": True})

    delivery = receiver.wait_for(1)[0]
    assert json.loads(delivery["body"])["id"] == event_id
    assert webhook_is_signed(delivery)


def test_replay_of_unknown_event_is_404(hooked_tms):
    response = hooked_tms.client.post("/sandbox/webhooks/replay", json={"event_id": "evt_nope"})

    assert response.status_code == 404
