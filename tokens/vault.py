"""Encryption at rest: AES-256-GCM under a key ring, the key id in every ciphertext.

A sealed value reads `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The
associated data names the model, row and field, so a ciphertext copied to another
row or field fails to open. Old keys stay in the ring for reading until
`rotate_encryption_keys` has re-sealed every row under the active key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = "v1"


class VaultError(Exception):
    """A ciphertext that cannot be opened: never returns garbage instead."""


class UnknownKeyId(VaultError):
    def __init__(self, key_id: str):
        super().__init__(f"encryption key {key_id!r} is not in ENCRYPTION_KEYS")
        self.key_id = key_id


@lru_cache(maxsize=8)
def _ring(keys_json: str) -> dict[str, AESGCM]:
    ring = {}
    for key_id, b64 in json.loads(keys_json).items():
        raw = base64.b64decode(b64)
        if len(raw) != 32:
            raise VaultError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        ring[key_id] = AESGCM(raw)
    return ring


def _keys() -> dict[str, AESGCM]:
    return _ring(json.dumps(settings.ENCRYPTION_KEYS, sort_keys=True))


def context_for(instance, field: str) -> str:
    """Associated data binding a value to one model, row and field."""
    return f"{instance._meta.label_lower}:{instance.pk}:{field}"


def seal_bytes(plaintext: bytes, context: str, key_id: str | None = None) -> str:
    key_id = key_id or settings.ENCRYPTION_ACTIVE_KEY_ID
    keys = _keys()
    if key_id not in keys:
        raise UnknownKeyId(key_id)
    nonce = os.urandom(12)
    body = keys[key_id].encrypt(nonce, plaintext, context.encode())
    return f"{VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + body).decode().rstrip('=')}"


def key_id_of(sealed: str) -> str:
    try:
        version, key_id, _ = sealed.split(".", 2)
    except ValueError:
        raise VaultError("not a sealed value") from None
    if version != VERSION:
        raise VaultError(f"unknown sealed value version {version!r}")
    return key_id


def open_bytes(sealed: str, context: str) -> bytes:
    key_id = key_id_of(sealed)
    keys = _keys()
    if key_id not in keys:
        raise UnknownKeyId(key_id)
    blob = sealed.split(".", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
    except (ValueError, TypeError):
        raise VaultError("sealed value is not valid base64") from None
    if len(raw) < 12 + 16:
        raise VaultError("sealed value is truncated")
    try:
        return keys[key_id].decrypt(raw[:12], raw[12:], context.encode())
    except InvalidTag:
        raise VaultError(
            "sealed value failed authentication (tampered, or belongs to another row/field)"
        ) from None


def seal_json(value: Any, context: str) -> str:
    return seal_bytes(json.dumps(value, separators=(",", ":")).encode(), context)


def open_json(sealed: str, context: str) -> Any:
    return json.loads(open_bytes(sealed, context))


def pan_fingerprint(pan: str) -> str:
    """Keyed fingerprint of a PAN (HMAC-SHA256): equal cards match, nobody can brute-force it
    without the key, which a plain hash of a 16-digit number would allow."""
    key = base64.b64decode(settings.PAN_FINGERPRINT_KEY)
    return hmac.new(key, pan.encode(), hashlib.sha256).hexdigest()
