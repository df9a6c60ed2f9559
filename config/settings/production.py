"""Production: every secret and every outside system must come from the environment.

Nothing here falls back to an embedded or generated value; a missing variable, or an
unsafe one (a base URL that is not https, a short or placeholder secret, a weak key),
stops the process at start with ImproperlyConfigured naming it, never showing its value.
docs/security.md ("Production fails closed") lists each rule and why.
"""

import base64
import binascii
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

# Fewer distinct characters (or bytes) than this is a placeholder ("changeme" repeated,
# "x" * 40, a key of zeros), not a random secret; Django's own SECRET_KEY check uses 5.
# A random secret of the lengths below has far more: 24 random hex digits show 8 or
# fewer distinct ones with a probability under 1e-6.
_MIN_DISTINCT = 9


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production")
    return value


def _not_placeholder(name: str, value: str | bytes) -> None:
    if len(set(value)) < _MIN_DISTINCT:
        raise ImproperlyConfigured(f"{name} looks like a placeholder, not a random secret")


def _https_url(name: str) -> str:
    """An outside system's base URL: required, https, a host, no credentials in it.

    TLS is what keeps card data, bearer keys and one-time codes off the wire in clear;
    credentials in a URL end up in logs and error reports."""
    value = _required(name)
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        # The value is not echoed: a URL with credentials in it would print them.
        raise ImproperlyConfigured(
            f"{name} must be an https:// URL with a host and no credentials in it")
    return value


def _api_key(name: str) -> str:
    """A bearer key issued by a counterpart (issuer, telco, SMS gateway).

    At least 24 characters: such keys are random tokens (the counterparts issue 32 to 40
    characters); anything shorter is a test value or a truncated paste, and a bearer key
    is all an attacker needs to call the counterpart as us."""
    value = _required(name)
    if len(value) < 24:
        raise ImproperlyConfigured(f"{name} must be at least 24 characters")
    _not_placeholder(name, value)
    return value


def _hmac_secret(name: str, value: str) -> str:
    """A shared HMAC-SHA256 secret used as its UTF-8 bytes (the webhook secrets).

    At least 32 bytes: RFC 2104 section 3 asks for a key no shorter than the hash output
    (32 bytes for SHA-256); a shorter key weakens the MAC. Length is what can be checked;
    the runbook says to generate them as `whsec_` + secrets.token_hex(32)."""
    if len(value.encode()) < 32:
        raise ImproperlyConfigured(f"{name} must be at least 32 bytes")
    _not_placeholder(name, value)
    return value


def _public_key(name: str, pem: str):
    """A PEM public key: RSA of at least 2048 bits (NIST SP 800-57: 112-bit strength) or
    an elliptic curve of at least 256 bits."""
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(f"{name} must be a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ImproperlyConfigured(
            f"{name} must be an RSA public key of at least 2048 bits, not {key.key_size}")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
        raise ImproperlyConfigured(f"{name} must use a curve of at least 256 bits")
    return key


def _service_account(name: str, info) -> None:
    """A Google service-account key file (the push gateway's OAuth2 identity): the fields
    google-auth needs, a token_uri held to the rule of every outside URL, and an RSA key of
    at least 2048 bits (Google issues 2048). Never echoes the key."""
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ImproperlyConfigured(f"{name} must be a service_account key file (JSON object)")
    for field in ("client_email", "private_key_id", "private_key", "token_uri"):
        if not isinstance(info.get(field), str) or not info[field]:
            raise ImproperlyConfigured(f"{name} lacks {field}")
    parts = urlsplit(info["token_uri"])
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ImproperlyConfigured(f"{name} token_uri must be an https:// URL with a host")
    try:
        key = load_pem_private_key(info["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(f"{name} private_key must be an RSA private key (PEM)") \
            from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ImproperlyConfigured(
            f"{name} private_key must be an RSA private key of at least 2048 bits")


SECRET_KEY = _required("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters")
_not_placeholder("SECRET_KEY", SECRET_KEY)
_required("DATABASE_URL")
_required("CELERY_BROKER_URL")
REDIS_URL = _required("REDIS_URL")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    raise ImproperlyConfigured("production needs PostgreSQL, not SQLite")
if CELERY_BROKER_URL.startswith(("filesystem://", "memory://")):  # noqa: F405
    raise ImproperlyConfigured("production needs a real broker (Redis)")

# Every outside system, whatever topic file declared it: a setting named *_BASE_URL is
# the base URL of one, so a system added later is checked without a line here.
for _name in sorted(_n for _n in list(globals()) if _n.endswith("_BASE_URL")):
    _https_url(_name)
# Bearer keys, the same way: *_API_KEY.
for _name in sorted(_n for _n in list(globals()) if _n.endswith("_API_KEY")):
    _api_key(_name)
# Optional; when set, events go over TLS like everything else (a DSN carries its public
# key as the URL's user name by design, so only the scheme is checked).
if SENTRY_DSN and urlsplit(SENTRY_DSN).scheme != "https":  # noqa: F405
    raise ImproperlyConfigured("SENTRY_DSN must be an https:// URL")

# Required; the keys' form is checked below, the identifiers have none to check.
for _name in (
    "PUSH_PROJECT_ID",
    "TOKEN_SERVICE_MERCHANT_ID",
    "TOKEN_SERVICE_KEY_ID",
    "TOKEN_SERVICE_SHARED_SECRET",
    "TOKEN_SERVICE_JWE_PUBLIC_KEY",
    "PAN_FINGERPRINT_KEY",
    "ENCRYPTION_ACTIVE_KEY_ID",
    "OTP_HASH_KEY",
):
    _required(_name)
if not TOKEN_SERVICE_WEBHOOK_SECRETS:  # noqa: F405
    raise ImproperlyConfigured("TOKEN_SERVICE_WEBHOOK_SECRETS must be set in production")
for _index, _secret in enumerate(TOKEN_SERVICE_WEBHOOK_SECRETS):  # noqa: F405
    _hmac_secret(f"TOKEN_SERVICE_WEBHOOK_SECRETS[{_index}]", _secret)
_public_key("TOKEN_SERVICE_JWE_PUBLIC_KEY", TOKEN_SERVICE_JWE_PUBLIC_KEY)  # noqa: F405
_required("PUSH_SERVICE_ACCOUNT")
_service_account("PUSH_SERVICE_ACCOUNT", PUSH_SERVICE_ACCOUNT)  # noqa: F405
if not JWT_PUBLIC_KEYS:  # noqa: F405
    raise ImproperlyConfigured("JWT_PUBLIC_KEYS must be set in production")
if ENCRYPTION_ACTIVE_KEY_ID not in ENCRYPTION_KEYS:  # noqa: F405
    raise ImproperlyConfigured("ENCRYPTION_ACTIVE_KEY_ID must name a key in ENCRYPTION_KEYS")


def _key_bytes(name: str, value: str, *, exactly: int | None = None, at_least: int = 32) -> bytes:
    """A base64 key. 32 bytes (256 bits) everywhere: exactly for AES-256-GCM, at least for
    the HMAC-SHA256 keys (RFC 2104: no shorter than the hash output)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be base64") from None
    if exactly is not None and len(raw) != exactly:
        raise ImproperlyConfigured(f"{name} must be {exactly} bytes, not {len(raw)}")
    if len(raw) < at_least:
        raise ImproperlyConfigured(f"{name} must be at least {at_least} bytes")
    _not_placeholder(name, raw)
    return raw


# Key material is checked at start, so a typo stops the deploy instead of the first
# request that needs the key.
_encryption_keys = {_key_bytes(f"ENCRYPTION_KEYS[{kid}]", b64, exactly=32)
                    for kid, b64 in ENCRYPTION_KEYS.items()}  # noqa: F405
if len(_encryption_keys) != len(ENCRYPTION_KEYS):  # noqa: F405
    raise ImproperlyConfigured("ENCRYPTION_KEYS holds the same key under two ids")
_fingerprint_key = _key_bytes("PAN_FINGERPRINT_KEY", PAN_FINGERPRINT_KEY)  # noqa: F405
_otp_key = _key_bytes("OTP_HASH_KEY", OTP_HASH_KEY)  # noqa: F405
# The HTTP Signature key: CyberSource issues it as base64 of 32 random bytes.
_key_bytes("TOKEN_SERVICE_SHARED_SECRET", TOKEN_SERVICE_SHARED_SECRET)  # noqa: F405
if _fingerprint_key in _encryption_keys or _otp_key in _encryption_keys \
        or _fingerprint_key == _otp_key:
    raise ImproperlyConfigured("PAN_FINGERPRINT_KEY, OTP_HASH_KEY and every encryption key "
                               "must be different keys")
if JWT_ALGORITHM not in {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",  # noqa: F405
                         "ES256", "ES384", "EdDSA"}:
    raise ImproperlyConfigured("JWT_ALGORITHM must be an asymmetric algorithm")
if any("PRIVATE KEY" in pem for pem in JWT_PUBLIC_KEYS.values()):  # noqa: F405
    raise ImproperlyConfigured("JWT_PUBLIC_KEYS must hold public keys only")
for _kid, _pem in JWT_PUBLIC_KEYS.items():  # noqa: F405
    _public_key(f"JWT_PUBLIC_KEYS[{_kid}]", _pem)

# Metrics and the API docs on the internal listener only (core/listeners.py, ADR 0006);
# the public site's URLconf has neither, even if the listener middleware were removed.
INTERNAL_PORT = env.int("INTERNAL_PORT", default=0)
if not 0 < INTERNAL_PORT < 65536:
    raise ImproperlyConfigured("INTERNAL_PORT must be set in production (the port of the "
                               "internal listener for /metrics and the API docs)")
ROOT_URLCONF = "config.urls_public"

# PCI DSS 8.3.4: an admin username is locked after at most 10 failed logins, for at least
# 30 minutes; the per-address limit can only be tighter.
if not 1 <= ADMIN_LOGIN_USERNAME_FAILURE_LIMIT <= 10:  # noqa: F405
    raise ImproperlyConfigured("ADMIN_LOGIN_USERNAME_FAILURE_LIMIT must be 1 to 10 "
                               "(PCI DSS 8.3.4: lock after at most 10 failures)")
if not 1 <= ADMIN_LOGIN_FAILURE_LIMIT <= ADMIN_LOGIN_USERNAME_FAILURE_LIMIT:  # noqa: F405
    raise ImproperlyConfigured("ADMIN_LOGIN_FAILURE_LIMIT must be 1 to "
                               "ADMIN_LOGIN_USERNAME_FAILURE_LIMIT")
if AXES_COOLOFF_TIME.total_seconds() < 30 * 60:  # noqa: F405
    raise ImproperlyConfigured("ADMIN_LOGIN_COOLOFF_MINUTES must be at least 30 minutes "
                               "(PCI DSS 8.3.4)")

# No dev signing key: mint_token refuses to run.
JWT_DEV_SIGNING_KEY = None
JWT_DEV_SIGNING_KID = None

# Behind a TLS-terminating proxy; these make `manage.py check --deploy` clean.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes speak plain HTTP to the pod. The internal listener never redirects (its requests
# do not reach SecurityMiddleware).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
# One TLS-terminating proxy in front by default: its X-Forwarded-For entry is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT  # noqa: F405
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if any(not _origin.startswith("https://") for _origin in CSRF_TRUSTED_ORIGINS):
    raise ImproperlyConfigured("CSRF_TRUSTED_ORIGINS must list https:// origins only")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
STATIC_ROOT = env.str("STATIC_ROOT", default="/app/static")
