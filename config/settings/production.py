"""Production: every secret and every outside system must come from the environment.

Nothing here falls back to an embedded or generated value; a missing variable stops
the process at start with ImproperlyConfigured naming it.
"""

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
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
STATIC_ROOT = env.str("STATIC_ROOT", default="/app/static")
