"""One signed JSON exchange with a CyberSource-shaped API (payouts, transaction search,
attributes inquiry): the merchant's HTTP Signature, which CyberSource shares across all
its APIs, so these clients sign with the token service's merchant credentials."""

from __future__ import annotations

import json

from django.conf import settings

from core.outside import transport
from core.outside import http_signature
from core.outside.transport import Response


def send_signed(client, *, operation: str, method: str, path: str, body: dict | None = None,
                ok: tuple[int, ...] = (200, 201), system: str = "") -> Response:
    """One signed exchange by `client` (an OutsideClient: its base URL, session and its
    registry entry's timeouts). `system` names the errors and metrics when they are another
    system's (a lost payout status is a lost payout answer)."""
    url = client.base_url + path
    raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    headers = http_signature.sign_request(
        method=method, url=url, body=raw,
        merchant_id=settings.TOKEN_SERVICE_MERCHANT_ID,
        key_id=settings.TOKEN_SERVICE_KEY_ID,
        shared_secret_b64=settings.TOKEN_SERVICE_SHARED_SECRET,
    )
    return transport.send(client.session, system=system or client.system, operation=operation,
                          method=method, url=url, headers=headers, body=raw, ok=ok,
                          timeout=client.timeout)


def encrypt_recipient_card(pan: str) -> str:
    """The recipient card as a compact JWE (RSA-OAEP-256 + A256GCM) under the network's
    public key; the PAN never travels in clear."""
    from core.crypto import jwe

    return jwe.encrypt_card({"pan": pan}, settings.TOKEN_SERVICE_JWE_PUBLIC_KEY)
