"""Production: every secret and every outside system must come from the environment.

Nothing here falls back to an embedded or generated value; a missing variable stops
the process at start with ImproperlyConfigured naming it.
"""

import base64
import binascii

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production")
    return value


SECRET_KEY = _required("SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters")
_required("DATABASE_URL")
_required("CELERY_BROKER_URL")
REDIS_URL = _required("REDIS_URL")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    raise ImproperlyConfigured("production needs PostgreSQL, not SQLite")
if CELERY_BROKER_URL.startswith(("filesystem://", "memory://")):  # noqa: F405
    raise ImproperlyConfigured("production needs a real broker (Redis)")

for _name in (
    "ISSUER_API_KEY",
    "TELCO_API_KEY",
    "PUSH_PROJECT_ID",
    "GATEWAY_API_KEY",
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
if not JWT_PUBLIC_KEYS:  # noqa: F405
    raise ImproperlyConfigured("JWT_PUBLIC_KEYS must be set in production")
if ENCRYPTION_ACTIVE_KEY_ID not in ENCRYPTION_KEYS:  # noqa: F405
    raise ImproperlyConfigured("ENCRYPTION_ACTIVE_KEY_ID must name a key in ENCRYPTION_KEYS")


def _key_bytes(name: str, value: str, *, exactly: int | None = None, at_least: int = 32) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be base64") from None
    if exactly is not None and len(raw) != exactly:
        raise ImproperlyConfigured(f"{name} must be {exactly} bytes, not {len(raw)}")
    if len(raw) < at_least:
        raise ImproperlyConfigured(f"{name} must be at least {at_least} bytes")
    return raw


# Key material is checked at start, so a typo stops the deploy instead of the first
# request that needs the key.
_encryption_keys = {_key_bytes(f"ENCRYPTION_KEYS[{kid}]", b64, exactly=32)
                    for kid, b64 in ENCRYPTION_KEYS.items()}  # noqa: F405
if len(_encryption_keys) != len(ENCRYPTION_KEYS):  # noqa: F405
    raise ImproperlyConfigured("ENCRYPTION_KEYS holds the same key under two ids")
_fingerprint_key = _key_bytes("PAN_FINGERPRINT_KEY", PAN_FINGERPRINT_KEY)  # noqa: F405
_otp_key = _key_bytes("OTP_HASH_KEY", OTP_HASH_KEY)  # noqa: F405
if _fingerprint_key in _encryption_keys or _otp_key in _encryption_keys \
        or _fingerprint_key == _otp_key:
    raise ImproperlyConfigured("PAN_FINGERPRINT_KEY, OTP_HASH_KEY and every encryption key "
                               "must be different keys")
if JWT_ALGORITHM not in {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",  # noqa: F405
                         "ES256", "ES384", "EdDSA"}:
    raise ImproperlyConfigured("JWT_ALGORITHM must be an asymmetric algorithm")
if any("PRIVATE KEY" in pem for pem in JWT_PUBLIC_KEYS.values()):  # noqa: F405
    raise ImproperlyConfigured("JWT_PUBLIC_KEYS must hold public keys only")

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
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
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
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
STATIC_ROOT = env.str("STATIC_ROOT", default="/app/static")
