"""Shared by the provisioning API tests: the endpoint, a valid body, a POST with a fresh
idempotency key, and clients holding hand-made bearer tokens."""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from joserfc import jwt
from joserfc.jwk import RSAKey
from rest_framework.test import APIClient

from core import dev_keys

URL = "/api/v1/provisioning-requests"


def body(**overrides):
    data = {"card_id": "card_green", "wallet": "google_pay",
            "device": {"id": "device-1", "type": "phone", "os": "android-15"}}
    data.update(overrides)
    return data


def post(client, data=None, key=None):
    return client.post(URL, data or body(), format="json",
                       HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def _client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _claims(**overrides):
    now = int(time.time())
    claims = {"iss": settings.JWT_ISSUER, "aud": settings.JWT_AUDIENCE, "sub": "cust_demo",
              "iat": now, "nbf": now, "exp": now + 600}
    claims.update(overrides)
    return claims


def _rsa_token(claims, kid=None):
    keys = dev_keys.load(settings.DEV_KEYS_FILE)
    header = {"alg": "RS256", "kid": kid or keys["jwt_kid"]}
    return jwt.encode(header, claims, RSAKey.import_key(keys["jwt_private_pem"]))
