"""The push gateway's OAuth2 side, as FCM HTTP v1 has it: a service account's signed JWT
assertion buys a short-lived access token at the token endpoint, and the send endpoint
takes nothing else. Assertions are signed here with joserfc, independently of the
google-auth library the service uses."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from core import dev_keys

pytestmark = []

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SEND = "/push/v1/projects/mpesa/messages:send"


def assertion(keys: dict[str, Any], *, private_pem: str | None = None, **overrides: Any) -> str:
    account = keys["push_service_account"]
    now = int(time.time())
    claims = {"iss": account["client_email"], "aud": GOOGLE_TOKEN_AUDIENCE, "scope": FCM_SCOPE,
              "iat": now, "exp": now + 3600}
    header = {"alg": "RS256", "typ": "JWT", "kid": overrides.pop("kid", account["private_key_id"])}
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    key = RSAKey.import_key(private_pem or account["private_key"])
    return jwt.encode(header, claims, key)


def grant(client, signed: str, grant_type: str = JWT_BEARER):
    return client.post("/push/token", content=urlencode({"grant_type": grant_type,
                                                         "assertion": signed}),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def message(token: str = "device-abc") -> dict[str, Any]:
    return {"message": {"token": token, "notification": {"title": "t", "body": "b"},
                        "data": {"reference": "ntf_1"}}}


def send(client, access_token: str | None):
    headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
    return client.post(SEND, json=message(), headers=headers)


def test_a_signed_assertion_buys_a_short_lived_bearer_token(client, keys):
    response = grant(client, assertion(keys))

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    assert send(client, body["access_token"]).status_code == 200
    stats = client.get("/sandbox/stats").json()
    assert stats["push_auth"]["tokens_issued"] == 1
    assert stats["calls"]["push"] == {"send": 1, "token": 1}


@pytest.mark.parametrize("case,reason", [
    ("other_key", "bad_signature"),
    ("unknown_kid", "unknown_key"),
    ("other_issuer", "unknown_account"),
    ("other_audience", "bad_audience"),
    ("expired", "expired_assertion"),
    ("too_long", "lifetime_too_long"),
    ("no_exp", "malformed_assertion"),
    ("garbage", "malformed_assertion"),
])
def test_an_assertion_that_google_would_refuse_is_invalid_grant(client, keys, case, reason):
    now = int(time.time())
    stranger = dev_keys.generate()["push_service_account"]["private_key"]
    signed = {
        "other_key": lambda: assertion(keys, private_pem=stranger),
        "unknown_kid": lambda: assertion(keys, kid="0123456789abcdef"),
        "other_issuer": lambda: assertion(keys, iss="someone@else.iam.gserviceaccount.com"),
        "other_audience": lambda: assertion(keys, aud="https://example.com/token"),
        "expired": lambda: assertion(keys, iat=now - 7200, exp=now - 3600),
        "too_long": lambda: assertion(keys, exp=now + 7200),
        "no_exp": lambda: assertion(keys, exp=None),
        "garbage": lambda: "not.a.jwt",
    }[case]()

    response = grant(client, signed)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    stats = client.get("/sandbox/stats").json()["push_auth"]
    assert stats["tokens_issued"] == 0
    assert stats["grant_failures"] == {reason: 1}


def test_an_assertion_without_the_messaging_scope_is_invalid_scope(client, keys):
    response = grant(client, assertion(keys, scope="https://www.googleapis.com/auth/cloud-platform"))

    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")


def test_another_grant_type_is_refused(client, keys):
    response = grant(client, assertion(keys), grant_type="client_credentials")

    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize("presented,reason", [(None, "missing"), ("ya29.made-up", "unknown")])
def test_a_send_without_an_issued_token_is_401_and_counted(client, keys, presented, reason):
    response = send(client, presented)

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert client.get("/sandbox/messages").json()["messages"] == []
    assert client.get("/sandbox/stats").json()["push_auth"]["send_refusals"] == {reason: 1}


def test_the_sms_gateway_key_does_not_open_the_push_gateway(client, keys):
    assert send(client, keys["gateway_api_key"]).status_code == 401


def test_an_expired_access_token_is_401_expired(make_client, keys, wait):
    client = make_client(SANDBOX_PUSH_TOKEN_SECONDS="0.2")
    token = grant(client, assertion(keys)).json()["access_token"]

    response = wait(lambda: (lambda r: r if r.status_code == 401 else None)(send(client, token)))

    assert response.json()["error"]["code"] == "unauthenticated"
    assert client.get("/sandbox/stats").json()["push_auth"]["send_refusals"] == {"expired": 1}


def test_revoked_access_tokens_are_refused_and_a_new_one_works(client, keys):
    token = grant(client, assertion(keys)).json()["access_token"]

    assert client.delete("/sandbox/access-tokens").status_code == 200

    assert send(client, token).status_code == 401
    fresh = grant(client, assertion(keys)).json()["access_token"]
    assert send(client, fresh).status_code == 200


def test_issued_tokens_outlive_a_reset_like_the_cards(client, keys):
    token = grant(client, assertion(keys)).json()["access_token"]

    client.post("/sandbox/reset")

    assert send(client, token).status_code == 200
    assert client.get("/sandbox/stats").json()["push_auth"]["tokens_issued"] == 0
