"""API v1 for provisioning requests: who may call it (bearer tokens, 401s)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from core import dev_keys
from tests.provisioning.api_support import URL, _claims, _client_with, _rsa_token

# --- authentication -----------------------------------------------------------------

@pytest.mark.django_db
def test_missing_token_is_401_with_the_error_shape(anon_client):
    response = anon_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_expired_token_is_401():
    token = _rsa_token(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200,
                               nbf=int(time.time()) - 7200))
    response = _client_with(token).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.django_db
def test_token_not_yet_valid_is_401():
    token = _rsa_token(_claims(nbf=int(time.time()) + 3600))
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_wrong_audience_is_401():
    assert _client_with(_rsa_token(_claims(aud="someone-else"))).get(URL).status_code == 401


@pytest.mark.django_db
def test_wrong_issuer_is_401():
    assert _client_with(_rsa_token(_claims(iss="https://evil.example"))).get(URL).status_code == 401


@pytest.mark.django_db
def test_unknown_key_id_is_401():
    assert _client_with(_rsa_token(_claims(), kid="rotated-out")).get(URL).status_code == 401


@pytest.mark.django_db
def test_hmac_token_signed_with_the_public_key_is_401():
    # The classic algorithm-confusion attack: HS256 keyed with the RSA public key.
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    public_pem = dev_keys.load(settings.DEV_KEYS_FILE)["jwt_public_pem"]
    signing_input = (b64(json.dumps({"alg": "HS256", "kid": "dev-jwt-1"}).encode()) + "."
                     + b64(json.dumps(_claims()).encode()))
    mac = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_alg_none_token_is_401():
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims())}."
    assert _client_with(token).get(URL).status_code == 401


@pytest.mark.django_db
def test_garbage_bearer_is_401():
    assert _client_with("not.a.jwt").get(URL).status_code == 401
