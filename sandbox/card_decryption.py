"""Decryption of the card JWEs the service sends: the card of a provision call, and the
recipient card of a Visa Direct attributes inquiry or payout.

Only RSA-OAEP-256 key wrapping with A256GCM content encryption is accepted, under the
token service's key (CyberSource uses one merchant key for all its APIs); anything else
is refused as a real token service would.
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


@dataclass(frozen=True)
class RecipientCard:
    """A card money is sent to: the sender knows its number, maybe not its expiry."""

    pan: str
    expiry_month: int | None
    expiry_year: int | None
    cardholder_name: str | None

    @property
    def last4(self) -> str:
        return self.pan[-4:]

    def __repr__(self) -> str:  # keep the PAN out of any log or traceback
        return f"RecipientCard(last4={self.last4!r})"


def _claims(token: str, key: RSAKey) -> dict:
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
    except (ValueError, KeyError, TypeError):
        raise CardDecryptionError("JWE plaintext is not the card object") from None
    return claims


def _year(value: object) -> int:
    # The contract does not say two or four digits for the year; accept both.
    year = _as_int(value)
    return year + 2000 if year < 100 else year


def decrypt_card(token: str, key: RSAKey) -> CardData:
    claims = _claims(token, key)
    try:
        month = _as_int(claims["expiry_month"])
        year = _year(claims["expiry_year"])
    except (ValueError, KeyError, TypeError):
        raise CardDecryptionError("JWE plaintext is not the card object") from None
    name = claims.get("cardholder_name")
    return CardData(claims["pan"], month, year, name if isinstance(name, str) else None)


def decrypt_recipient_card(token: str, key: RSAKey) -> RecipientCard:
    """Same JWE and plaintext as `decrypt_card`, but the expiry may be left out (both parts)."""
    claims = _claims(token, key)
    month = year = None
    if claims.get("expiry_month") is not None or claims.get("expiry_year") is not None:
        try:
            month = _as_int(claims["expiry_month"])
            year = _year(claims["expiry_year"])
        except (ValueError, KeyError, TypeError):
            raise CardDecryptionError("JWE expiry must be both month and year") from None
        if not 1 <= month <= 12:
            raise CardDecryptionError("JWE expiry_month must be 1 to 12")
    name = claims.get("cardholder_name")
    return RecipientCard(claims["pan"], month, year, name if isinstance(name, str) else None)
