"""Encryption at rest: AES-256-GCM under a key ring, the key id in every ciphertext.

A sealed value reads `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The
associated data names the model, row and field, so a ciphertext copied to another
row or field fails to open. Old keys stay in the ring for reading until
`rotate_encryption_keys` has re-sealed every row under the active key. Models use this
through one field type, `core.crypto.fields.EncryptedJSONField`, never by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16
# Key ids travel inside every ciphertext, split on "."; keep them short and plain.
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class VaultError(Exception):
    """A value that cannot be sealed or opened. Never answered with garbage instead."""

    key_id: str | None = None


class UnknownKeyId(VaultError):
    """The ciphertext (or ENCRYPTION_ACTIVE_KEY_ID) names a key the ring does not hold."""

    def __init__(self, key_id: str, context: str | None = None):
        where = f" (needed for {context})" if context else ""
        super().__init__(
            f"encryption key {key_id!r} is not in ENCRYPTION_KEYS{where}: restore it to the "
            f"key ring, or the value cannot be read"
        )
        self.key_id = key_id
        self.context = context


class CiphertextInvalid(VaultError):
    """Authentication failed: the bytes were changed, or they belong to another row/field."""

    def __init__(self, key_id: str, context: str, reason: str):
        super().__init__(f"value sealed under encryption key {key_id!r} does not open for "
                         f"{context}: {reason}")
        self.key_id = key_id
        self.context = context


class MalformedCiphertext(VaultError):
    """Not a sealed value at all (wrong shape, version or encoding)."""


@lru_cache(maxsize=8)
def _ring(keys_json: str) -> dict[str, AESGCM]:
    ring = {}
    for key_id, b64 in json.loads(keys_json).items():
        if not KEY_ID_PATTERN.match(key_id):
            raise VaultError(f"encryption key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise VaultError(f"encryption key {key_id!r} is not valid base64") from None
        if len(raw) != 32:
            raise VaultError(f"encryption key {key_id!r} must be 32 bytes (AES-256), "
                             f"not {len(raw)}")
        ring[key_id] = AESGCM(raw)
    return ring


def _keys() -> dict[str, AESGCM]:
    return _ring(json.dumps(settings.ENCRYPTION_KEYS, sort_keys=True))


def active_key_id() -> str:
    return settings.ENCRYPTION_ACTIVE_KEY_ID


def context(model_label: str, pk: Any, field_name: str) -> str:
    """Associated data binding a value to one model, row and field."""
    return f"{model_label}:{pk}:{field_name}"


def context_for(instance, field: str) -> str:
    return context(instance._meta.label_lower, instance.pk, field)


def seal_bytes(plaintext: bytes, context: str, key_id: str | None = None) -> str:
    key_id = key_id or active_key_id()
    keys = _keys()
    if key_id not in keys:
        raise UnknownKeyId(key_id, context)
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonce: safe far beyond our row count
    body = keys[key_id].encrypt(nonce, plaintext, context.encode())
    return f"{VERSION}.{key_id}.{base64.urlsafe_b64encode(nonce + body).decode().rstrip('=')}"


def _split(sealed: str) -> tuple[str, str]:
    if not isinstance(sealed, str):
        raise MalformedCiphertext("a sealed value must be text")
    parts = sealed.split(".", 2)
    if len(parts) != 3:
        raise MalformedCiphertext("not a sealed value (expected v1.<key id>.<data>)")
    version, key_id, blob = parts
    if version != VERSION:
        raise MalformedCiphertext(f"unknown sealed value version {version[:8]!r}")
    if not KEY_ID_PATTERN.match(key_id):
        raise MalformedCiphertext("sealed value has no valid key id")
    return key_id, blob


def key_id_of(sealed: str) -> str:
    return _split(sealed)[0]


def looks_sealed(value: Any) -> bool:
    try:
        _split(value)
    except MalformedCiphertext:
        return False
    return True


def open_bytes(sealed: str, context: str) -> bytes:
    key_id, blob = _split(sealed)
    keys = _keys()
    if key_id not in keys:
        raise UnknownKeyId(key_id, context)
    try:
        raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
    except (binascii.Error, ValueError):
        raise CiphertextInvalid(key_id, context, "data is not base64url") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise CiphertextInvalid(key_id, context, "data is truncated")
    try:
        return keys[key_id].decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise CiphertextInvalid(
            key_id, context, "authentication failed (tampered, or sealed for another row or field)"
        ) from None


def seal_json(value: Any, context: str) -> str:
    return seal_bytes(json.dumps(value, separators=(",", ":")).encode(), context)


def open_json(sealed: str, context: str) -> Any:
    return json.loads(open_bytes(sealed, context))


def reseal(sealed: str, context: str) -> str:
    """The same plaintext sealed under the active key (key rotation)."""
    return seal_bytes(open_bytes(sealed, context), context)


def _fingerprint_key() -> bytes:
    try:
        key = base64.b64decode(settings.PAN_FINGERPRINT_KEY, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise VaultError("PAN_FINGERPRINT_KEY is not valid base64") from None
    if len(key) < 32:
        raise VaultError("PAN_FINGERPRINT_KEY must be at least 32 bytes")
    return key


def pan_fingerprint(pan: str) -> str:
    """Keyed fingerprint of a PAN (HMAC-SHA256 under its own key): equal cards match, and
    nobody without the key can test guesses, which a plain hash of a 16-digit number with
    a known prefix and a check digit would allow in minutes."""
    digits = re.sub(r"[ -]", "", pan or "")
    if not digits.isdigit() or not 8 <= len(digits) <= 19:
        raise ValueError("a PAN is 8 to 19 digits (ISO/IEC 7812)")
    return hmac.new(_fingerprint_key(), digits.encode(), hashlib.sha256).hexdigest()


def configuration_problems() -> list[str]:
    """What is wrong with the key settings, for a system check (empty when all is well)."""
    problems = []
    try:
        ring = _keys()
    except VaultError as exc:
        return [str(exc)]
    if not ring:
        problems.append("ENCRYPTION_KEYS is empty")
    active = active_key_id()
    if active not in ring:
        problems.append(f"ENCRYPTION_ACTIVE_KEY_ID {active!r} is not in ENCRYPTION_KEYS")
    try:
        fingerprint_key = _fingerprint_key()
    except VaultError as exc:
        problems.append(str(exc))
    else:
        raw_keys = {base64.b64decode(b64) for b64 in settings.ENCRYPTION_KEYS.values()}
        if fingerprint_key in raw_keys:
            problems.append("PAN_FINGERPRINT_KEY must differ from every encryption key")
    return problems
