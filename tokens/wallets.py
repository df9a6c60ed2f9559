"""The wallets a card can be pushed into, one entry each: code, label, the extra block the
wallet app sends for it, and how that block goes into the token service's provision call.

Adding a wallet is one entry here (plus the sandbox's stand-in, and the wallet's name in
the notification templates). The API's request serializer, its OpenAPI variant, the
`wallet` choices of the models, the stored `wallet_data` and the provision body all read
from this registry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from core.validators import refuse_card_number


def _base64(value: str, field: str, max_bytes: int) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise serializers.ValidationError(f"{field} must be base64.") from None
    if not raw or len(raw) > max_bytes:
        raise serializers.ValidationError(f"{field} must be 1 to {max_bytes} bytes.")
    return value


class AppleDataSerializer(serializers.Serializer):
    """Apple Pay's in-app provisioning block: the device's certificates, and the nonce and
    its signature the token service binds the encrypted pass to."""

    certificates = serializers.ListField(
        child=serializers.CharField(max_length=8192, validators=[refuse_card_number]),
        min_length=1, max_length=4,
    )
    nonce = serializers.CharField(max_length=64, validators=[refuse_card_number])
    nonce_signature = serializers.CharField(max_length=1024, validators=[refuse_card_number])

    def validate_certificates(self, value):
        return [_base64(item, "certificates[]", 6144) for item in value]

    def validate_nonce(self, value):
        return _base64(value, "nonce", 32)

    def validate_nonce_signature(self, value):
        return _base64(value, "nonce_signature", 768)

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", None) or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        return attrs


def _no_fields(data: dict[str, Any] | None) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class WalletKind:
    """One wallet. `data_field` names the wallet's own block in the API request (and is
    required there for this wallet, refused for every other); its validated value is what
    the request stores as `wallet_data` and what `provision_fields` puts into the body of
    the provision call."""

    code: str
    label: str
    data_field: str | None = None
    data_serializer: type[serializers.Serializer] | None = None
    provision_fields: Callable[[dict[str, Any] | None], dict[str, Any]] = _no_fields


GOOGLE_PAY = WalletKind("google_pay", "Google Pay")
APPLE_PAY = WalletKind(
    "apple_pay", "Apple Pay", data_field="apple", data_serializer=AppleDataSerializer,
    provision_fields=lambda data: {"apple": data},
)
SAMSUNG_PAY = WalletKind("samsung_pay", "Samsung Pay")

WALLETS: dict[str, WalletKind] = {kind.code: kind for kind in (GOOGLE_PAY, APPLE_PAY, SAMSUNG_PAY)}


def get(code: str) -> WalletKind:
    """The wallet of a code the API accepted (KeyError for any other: a bug)."""
    return WALLETS[code]


def choices() -> list[tuple[str, str]]:
    return [(kind.code, kind.label) for kind in WALLETS.values()]


def data_fields() -> dict[str, WalletKind]:
    """Request field name -> the wallet it belongs to, for the wallets that have a block."""
    return {kind.data_field: kind for kind in WALLETS.values() if kind.data_field}
