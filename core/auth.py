"""Customer authentication for the wallet-app API: a bearer JWT whose `sub` is the customer.

The algorithm is pinned (RS256 by default): `none` and HMAC tokens are refused
before any key is touched, so a public key can never be used as an HMAC secret.
Keys are picked by `kid` from JWT_PUBLIC_KEYS, so the identity provider can rotate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey
from rest_framework import authentication, exceptions

_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}


@dataclass(frozen=True)
class Customer:
    """The authenticated wallet-app customer (not a Django user)."""

    customer_id: str
    claims: dict

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> str:
        return self.customer_id


_KEY_TYPES = {"RS": RSAKey, "PS": RSAKey, "ES": ECKey, "Ed": OKPKey}


@lru_cache(maxsize=16)
def _import_key(pem: str, algorithm: str):
    # The key type follows the pinned algorithm, so a key of another type cannot be used.
    return _KEY_TYPES[algorithm[:2]].import_key(pem)


def _claims_registry() -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        leeway=settings.JWT_LEEWAY_SECONDS,
        iss={"essential": True, "value": settings.JWT_ISSUER},
        aud={"essential": True, "value": settings.JWT_AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
    )


def decode_customer_token(raw: str) -> Customer:
    algorithm = settings.JWT_ALGORITHM
    if algorithm not in _ASYMMETRIC:
        raise exceptions.AuthenticationFailed("Server JWT algorithm must be asymmetric.")
    keys = settings.JWT_PUBLIC_KEYS

    def resolve_key(guest):
        kid = guest.headers().get("kid")
        if kid is None and len(keys) == 1:
            kid = next(iter(keys))
        if not isinstance(kid, str) or kid not in keys:
            raise exceptions.AuthenticationFailed("Unknown signing key.")
        return _import_key(keys[kid], algorithm)

    try:
        token = jwt.decode(raw, resolve_key, algorithms=[algorithm])
        _claims_registry().validate(token.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise exceptions.AuthenticationFailed(f"Invalid bearer token: {type(exc).__name__}.")
    subject = token.claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 64:
        raise exceptions.AuthenticationFailed("Invalid bearer token subject.")
    return Customer(customer_id=subject, claims=token.claims)


def mint_dev_token(customer_id: str, lifetime_seconds: int = 3600, **extra_claims) -> str:
    """A bearer token signed with the dev key; only dev/test/sandbox settings have one."""
    if not settings.JWT_DEV_SIGNING_KEY:
        raise RuntimeError("No dev signing key configured: tokens are minted by the IdP here.")
    now = int(time.time())
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": customer_id,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        **extra_claims,
    }
    header = {"alg": settings.JWT_ALGORITHM, "kid": settings.JWT_DEV_SIGNING_KID, "typ": "JWT"}
    return jwt.encode(header, claims, RSAKey.import_key(settings.JWT_DEV_SIGNING_KEY))


class CustomerJWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <token>'.")
        customer = decode_customer_token(parts[1])
        return customer, parts[1]

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class CustomerJWTScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema that the API takes a bearer JWT (defined next to the class,
    so it is registered whenever the authentication class is loaded)."""

    target_class = "core.auth.CustomerJWTAuthentication"
    name = "customerJWT"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
