"""The push and SMS gateway clients over real HTTP, against the sandbox served in-process.

The push client authenticates as FCM HTTP v1 wants: an OAuth2 access token bought from
the token endpoint (the sandbox's /push/token) with the service account's signed JWT.
"""

from __future__ import annotations

import pytest
import requests

from core.outside.http import PermanentError, TransientError
from notifications.channels import PushGatewayClient, SmsGatewayClient
from tests.live import wait_until


def _inbox(url: str, to: str) -> list[dict]:
    return requests.get(f"{url}/sandbox/messages", params={"to": to}, timeout=5).json()["messages"]


def _push_auth(url: str) -> dict:
    return requests.get(f"{url}/sandbox/stats", timeout=5).json()["push_auth"]


def _push(reference: str = "ref", device_token: str = "fcm-abc"):
    return PushGatewayClient().send(device_token=device_token, title="t", body="b",
                                    reference=reference, event="provisioned")


def test_an_sms_arrives_with_its_reference_and_the_providers_id_comes_back(gateway_urls):
    sent = SmsGatewayClient().send(to="+254700000100", text="Habari", reference="ref-1")
    [message] = _inbox(gateway_urls, "+254700000100")
    assert (message["body"], message["reference"]) == ("Habari", "ref-1")
    assert sent.provider_message_id == message["id"]


def test_a_push_arrives_fcm_shaped_with_the_reference_in_its_data(gateway_urls, settings):
    settings.PUSH_PROJECT_ID = "wallet-test"
    sent = PushGatewayClient().send(device_token="fcm-abc", title="Card added", body="Done",
                                    reference="ref-2", event="provisioned")
    [message] = _inbox(gateway_urls, "fcm-abc")
    assert (message["title"], message["body"], message["reference"]) == ("Card added", "Done",
                                                                         "ref-2")
    assert message["data"] == {"reference": "ref-2", "event": "provisioned"}
    assert sent.provider_message_id == f"projects/wallet-test/messages/{message['id']}"


def test_a_dead_device_token_is_a_permanent_push_unregistered(gateway_urls):
    with pytest.raises(PermanentError) as refused:
        PushGatewayClient().send(device_token="dead-abc", title="t", body="b", reference="r",
                                 event="provisioned")
    assert refused.value.code == "push_unregistered"


def test_a_refused_number_is_a_permanent_error_coded_by_channel(gateway_urls):
    with pytest.raises(PermanentError) as refused:
        SmsGatewayClient().send(to="0700", text="Habari", reference="ref-3")
    assert refused.value.code == "sms_invalid_msisdn"


def test_a_wrong_sms_api_key_is_a_permanent_error_not_a_retry(gateway_urls, settings):
    settings.GATEWAY_API_KEY = "not-the-key"
    with pytest.raises(PermanentError) as refused:
        SmsGatewayClient().send(to="+254700000100", text="Habari", reference="ref-4")
    assert refused.value.status == 401 and refused.value.code.startswith("sms_")


def test_a_gateway_answering_503_is_transient(gateway_urls):
    requests.post(f"{gateway_urls}/sandbox/faults", json={"system": "sms", "error_rate": 1.0},
                  timeout=5).raise_for_status()
    with pytest.raises(TransientError) as failed:
        SmsGatewayClient().send(to="+254700000100", text="Habari", reference="ref-5")
    assert failed.value.code == "sms_unavailable"
    assert _inbox(gateway_urls, "+254700000100") == []


def test_a_gateway_that_does_not_answer_in_time_is_transient(gateway_urls, settings):
    settings.OUTSIDE_READ_TIMEOUT = 0.3
    requests.post(f"{gateway_urls}/sandbox/faults", json={"system": "push", "timeout_rate": 1.0},
                  timeout=5).raise_for_status()
    with pytest.raises(TransientError) as failed:
        PushGatewayClient().send(device_token="fcm-abc", title="t", body="b", reference="r",
                                 event="provisioned")
    assert failed.value.code == "push_timeout"


def test_pushes_share_one_access_token_bought_with_the_service_account(gateway_urls):
    for number in range(3):
        _push(f"ref-share-{number}")
    assert len(_inbox(gateway_urls, "fcm-abc")) == 3
    auth = _push_auth(gateway_urls)
    assert auth["tokens_issued"] == 1
    assert auth["send_refusals"] == {}


def test_a_refused_access_token_is_renewed_once_and_the_push_still_arrives(gateway_urls):
    _push("ref-before")
    # The gateway forgets every token it issued, as when Google revokes one early.
    requests.delete(f"{gateway_urls}/sandbox/access-tokens", timeout=5).raise_for_status()

    _push("ref-after")

    assert [m["reference"] for m in _inbox(gateway_urls, "fcm-abc")] == ["ref-before", "ref-after"]
    auth = _push_auth(gateway_urls)
    assert auth["send_refusals"] == {"unknown": 1}
    assert auth["tokens_issued"] == 2


def test_an_access_token_is_renewed_before_the_gateway_would_refuse_it(short_token_gateway):
    _push("ref-first")

    # Each token is fresh for about a second: keep pushing until one goes out on a new token.
    wait_until(lambda: _push("ref-next") and _push_auth(short_token_gateway)["tokens_issued"] >= 2,
               timeout=15, interval=0.2, message="a second access token")

    assert _push_auth(short_token_gateway)["send_refusals"] == {}
