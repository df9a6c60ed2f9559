"""The wallets a card can be pushed into, one entry each: code, label, the extra block the
wallet app sends for it, and how that block goes into the token service's provision call.

Adding a wallet is one entry here (plus the sandbox's stand-in, and the wallet's name in
the notification templates). The API's request serializer, its OpenAPI variant, the
`wallet` choices of the models, the stored `wallet_data` and the provision body all read
from this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from core.serializers import StrictSerializer
from core.validators import refuse_card_number


def base64_pattern(max_bytes: int) -> str:
    """Standard base64 of 1 to `max_bytes` bytes, padded: what `_base64` accepts, as a regex
    the API schema can carry (so a generated valid value is one the API takes)."""
    char = "[A-Za-z0-9+/]"
    return (f"^(?:(?:{char}{{4}}){{1,{max_bytes // 3}}}"
            f"|(?:{char}{{4}}){{0,{(max_bytes - 1) // 3}}}{char}{{2}}=="
            f"|(?:{char}{{4}}){{0,{(max_bytes - 2) // 3}}}{char}{{3}}=)$")


def _base64_field(max_bytes: int) -> serializers.RegexField:
    return serializers.RegexField(base64_pattern(max_bytes), max_length=(max_bytes + 2) // 3 * 4,
                                  validators=[refuse_card_number],
                                  error_messages={"invalid": f"Base64 of 1 to {max_bytes} bytes."})


class AppleDataSerializer(StrictSerializer):
    """Apple Pay's in-app provisioning block: the device's certificates, and the nonce and
    its signature the token service binds the encrypted pass to (all base64)."""

    certificates = serializers.ListField(child=_base64_field(6144), min_length=1, max_length=4)
    nonce = _base64_field(32)
    nonce_signature = _base64_field(768)


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
