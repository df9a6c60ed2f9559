"""Decryption of the card JWE the service sends with a provision call.

Only RSA-OAEP-256 key wrapping with A256GCM content encryption is accepted
(DESIGN.md "Security"); anything else is refused as a real token service would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

ALG = "RSA-OAEP-256"
ENC = "A256GCM"
# joserfc's default registry refuses RSA-OAEP-256 as "not recommended"; this one
# allows exactly the pair the contract names and nothing else.
_REGISTRY = jwe.JWERegistry(algorithms=[ALG, ENC])


class CardDecryptionError(Exception):
    pass


@dataclass(frozen=True)
class CardData:
    pan: str
    expiry_month: int
    expiry_year: int  # four digits
    cardholder_name: str | None

    def __repr__(self) -> str:  # keep the PAN out of any log or traceback
        return f"CardData(last4={self.pan[-4:]!r})"


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError("not a number")


def decrypt_card(token: str, key: RSAKey) -> CardData:
    try:
        message = jwe.decrypt_compact(token, key, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError) as exc:
        raise CardDecryptionError(f"JWE does not decrypt: {type(exc).__name__}") from None
    header = message.protected
    if header.get("alg") != ALG or header.get("enc") != ENC:
        raise CardDecryptionError(f"JWE must be {ALG} + {ENC}")
    try:
        claims = json.loads(message.plaintext or b"")
        pan = claims["pan"]
        if not isinstance(pan, str) or not pan.isdigit():
            raise ValueError("pan is not digits")
        month = _as_int(claims["expiry_month"])
        year = _as_int(claims["expiry_year"])
        name = claims.get("cardholder_name")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CardDecryptionError("JWE plaintext is not the card object") from None
    # The contract does not say two or four digits for the year; accept both.
    if year < 100:
        year += 2000
    return CardData(pan, month, year, name if isinstance(name, str) else None)
