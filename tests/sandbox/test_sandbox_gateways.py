"""Push and SMS gateway stand-ins and the shared inbox."""

from __future__ import annotations

import pytest

from tests.sandbox.test_sandbox_push_auth import assertion, grant

pytestmark = []


@pytest.fixture
def gateway(client, keys):
    """POST with the gateway's credential: the SMS bearer key, or for push an OAuth2
    access token bought with the service account (test_sandbox_push_auth.py)."""
    access_token = None

    def post(path, body, api_key=None):
        nonlocal access_token
        token = api_key
        if token is None and path.startswith("/push/"):
            access_token = access_token or grant(client, assertion(keys)).json()["access_token"]
            token = access_token
        token = token or keys["gateway_api_key"]
        return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    return post


def push(token, reference="ntf_1", **data):
    return {
        "message": {
            "token": token,
            "notification": {"title": "Card added", "body": "Done"},
            "data": {"reference": reference, **data},
        }
    }


def test_push_is_accepted_and_lands_in_the_inbox(gateway, client):
    response = gateway(
        "/push/v1/projects/mpesa/messages:send", push("device-abc", kind="provisioned")
    )

    assert response.status_code == 200
    messages = client.get("/sandbox/messages", params={"to": "device-abc"}).json()["messages"]
    assert response.json()["name"] == f"projects/mpesa/messages/{messages[0]['id']}"
    assert {k: messages[0][k] for k in ("channel", "to", "title", "body", "reference", "data")} == {
        "channel": "push",
        "to": "device-abc",
        "title": "Card added",
        "body": "Done",
        "reference": "ntf_1",
        "data": {"reference": "ntf_1", "kind": "provisioned"},
    }


def test_push_to_a_dead_token_is_unregistered(gateway, client):
    response = gateway("/push/v1/projects/mpesa/messages:send", push("dead-abc"))

    assert response.status_code == 404
    assert response.json()["error"]["status"] == "UNREGISTERED"
    assert response.json()["error"]["code"] == "unregistered"
    assert client.get("/sandbox/messages").json()["messages"] == []


def test_push_data_values_must_be_strings_as_in_fcm(gateway):
    response = gateway("/push/v1/projects/mpesa/messages:send", push("device-abc", attempts=3))

    assert response.status_code == 400


def test_sms_is_queued_and_read_back_newest_last(gateway, client):
    first = gateway(
        "/sms/v1/messages", {"to": "+254700000100", "text": "Code 123456", "reference": "a"}
    )
    gateway("/sms/v1/messages", {"to": "+254700000200", "text": "Other", "reference": "b"})
    gateway("/sms/v1/messages", {"to": "+254700000100", "text": "Code 654321", "reference": "c"})

    assert first.status_code == 201
    assert first.json()["status"] == "queued"
    inbox = client.get("/sandbox/messages", params={"to": "+254700000100"}).json()["messages"]
    assert [m["body"] for m in inbox] == ["Code 123456", "Code 654321"]
    assert inbox[0]["id"] == first.json()["message_id"]
    assert inbox[0]["channel"] == "sms"


def test_a_reference_sent_twice_is_counted_as_a_duplicate(gateway, client):
    for _ in range(3):
        gateway("/sms/v1/messages", {"to": "+254700000100", "text": "Code", "reference": "ntf_9"})
    gateway("/push/v1/projects/mpesa/messages:send", push("device-abc", reference="ntf_9"))

    messages = client.get("/sandbox/stats").json()["messages"]
    assert messages["duplicate_references"] == 3
    assert messages["duplicated"] == {"ntf_9": 4}


@pytest.mark.parametrize("path", ["/sms/v1/messages", "/push/v1/projects/mpesa/messages:send"])
def test_gateways_want_the_gateway_key(gateway, path, keys):
    body = {"to": "+254700000100", "text": "x", "reference": "r"}

    response = gateway(path, body, api_key=keys["issuer_api_key"])

    assert response.status_code == 401


def test_sms_to_a_malformed_number_is_refused(gateway):
    response = gateway("/sms/v1/messages", {"to": "0700", "text": "x", "reference": "r"})

    assert response.status_code == 400
