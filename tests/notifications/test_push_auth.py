"""The push client's OAuth2 handling where the sandbox cannot easily misbehave: the token
endpoint refusing, failing or hanging, and a gateway that refuses even a fresh token.
The HTTP layer (the requests sessions) is the only stand-in; google-auth and our client
run for real on top of it."""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import parse_qs

import pytest
import requests

from core.outside import transport as outside
from core.outside.http import OutsideTimeout, PermanentError, TransientError
from notifications.channels import PushGatewayClient

TOKEN_URI = "https://oauth2.googleapis.example/token"


def _reply(status: int, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class ScriptedHttp:
    """A requests session answering the token endpoint and the send endpoint from scripts
    (the last answer repeats), and recording every call."""

    def __init__(self, token_answers, send_answers=None):
        self.token_answers = list(token_answers)
        self.send_answers = list(send_answers or [(200, {"name": "projects/p/messages/1"})])
        self.token_calls: list[dict] = []
        self.send_calls: list[dict] = []

    def request(self, method, url, data=None, headers=None, timeout=None, **kwargs):
        call = {"method": method, "url": url, "data": data, "headers": dict(headers or {}),
                "timeout": timeout, **kwargs}
        if url.startswith(TOKEN_URI):
            self.token_calls.append(call)
            answer = self.token_answers[min(len(self.token_calls), len(self.token_answers)) - 1]
        else:
            self.send_calls.append(call)
            answer = self.send_answers[min(len(self.send_calls), len(self.send_answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return _reply(*answer)

    def close(self):
        pass


@pytest.fixture
def http(monkeypatch, settings):
    """Install a scripted HTTP layer; each test gets a token endpoint of its own, so no
    access token cached by another test is reused."""
    settings.PUSH_GATEWAY_BASE_URL = "https://fcm.googleapis.example"
    settings.PUSH_SERVICE_ACCOUNT = {**settings.PUSH_SERVICE_ACCOUNT,
                                     "token_uri": f"{TOKEN_URI}?test={uuid.uuid4().hex}"}

    def install(token_answers, send_answers=None) -> ScriptedHttp:
        scripted = ScriptedHttp(token_answers, send_answers)
        monkeypatch.setattr(outside, "build_session", lambda: scripted)
        monkeypatch.setattr(outside, "hardened_session", lambda: scripted)
        return scripted

    return install


GRANTED = (200, {"access_token": "ya29.first", "expires_in": 3600, "token_type": "Bearer"})


def _push():
    return PushGatewayClient().send(device_token="fcm-abc", title="t", body="b",
                                    reference="ref-1", event="provisioned")


def test_the_send_carries_the_access_token_bought_with_a_jwt_bearer_grant(http, settings):
    scripted = http([GRANTED])

    _push()

    [token_call] = scripted.token_calls
    form = parse_qs(token_call["data"].decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert form["assertion"][0].count(".") == 2  # a signed JWT
    assert token_call["allow_redirects"] is False
    assert token_call["timeout"] == (settings.OUTSIDE_CONNECT_TIMEOUT,
                                     settings.OUTSIDE_READ_TIMEOUT)
    [send_call] = scripted.send_calls
    assert send_call["headers"]["Authorization"] == "Bearer ya29.first"


def test_a_service_account_the_token_endpoint_refuses_is_permanent_and_nothing_is_sent(http):
    scripted = http([(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})])

    with pytest.raises(PermanentError) as refused:
        _push()

    assert refused.value.code == "push_auth_failed"
    assert scripted.send_calls == []


def test_a_token_endpoint_answering_503_is_transient(http):
    scripted = http([(503, {"error": "internal_failure"})])

    with pytest.raises(TransientError) as failed:
        _push()

    assert failed.value.code == "push_unavailable"
    assert scripted.send_calls == []


def test_a_token_endpoint_that_does_not_answer_in_time_is_a_push_timeout(http):
    scripted = http([requests.ReadTimeout("read timed out")])

    with pytest.raises(OutsideTimeout) as failed:
        _push()

    assert failed.value.code == "push_timeout"
    assert len(scripted.token_calls) == 1 and scripted.send_calls == []


def test_a_401_to_a_fresh_token_as_well_is_push_unauthorized_after_one_renewal(http):
    second = (200, {"access_token": "ya29.second", "expires_in": 3600, "token_type": "Bearer"})
    unauthenticated = (401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    scripted = http([GRANTED, second], [unauthenticated])

    with pytest.raises(PermanentError) as refused:
        _push()

    assert refused.value.code == "push_unauthorized"
    assert len(scripted.token_calls) == 2
    assert [call["headers"]["Authorization"] for call in scripted.send_calls] == [
        "Bearer ya29.first", "Bearer ya29.second"]


def test_neither_the_assertion_nor_the_access_token_is_logged_even_at_debug(http, caplog):
    scripted = http([GRANTED])
    caplog.set_level(logging.DEBUG)

    _push()

    assertion = parse_qs(scripted.token_calls[0]["data"].decode())["assertion"][0]
    assert assertion not in caplog.text and "ya29.first" not in caplog.text
