"""Card data for the token service as a JWE (RSA-OAEP-256 key wrap, A256GCM content).

The PAN exists only in the plaintext handed to `encrypt_card` and in the compact JWE it
returns; neither is stored, logged or kept after the provision call.
"""

from __future__ import annotations

import json
from functools import lru_cache

from joserfc import jwe
from joserfc.jwk import RSAKey

ALGORITHM = "RSA-OAEP-256"
ENCRYPTION = "A256GCM"


@lru_cache(maxsize=4)
def _public_key(pem: str) -> RSAKey:
    return RSAKey.import_key(pem)


def encrypt_card(card: dict, public_key_pem: str) -> str:
    protected = {"alg": ALGORITHM, "enc": ENCRYPTION, "cty": "application/json"}
    plaintext = json.dumps(card, separators=(",", ":")).encode()
    return jwe.encrypt_compact(
        protected, plaintext, _public_key(public_key_pem), algorithms=[ALGORITHM, ENCRYPTION]
    )


def decrypt_card(token: str, private_key_pem: str) -> dict:
    """The token service's side; used by tests to prove the round trip."""
    result = jwe.decrypt_compact(
        token, RSAKey.import_key(private_key_pem), algorithms=[ALGORITHM, ENCRYPTION]
    )
    return json.loads(result.plaintext)
