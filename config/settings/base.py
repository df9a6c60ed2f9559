"""Settings shared by every mode, all read from the environment.

Each knob has a name, a development default and a line in the README's
configuration table. `production.py` replaces every embedded default with a
required variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# Where the dev/test/sandbox key material lives (see core/dev_keys.py).
DEV_KEYS_FILE = env.str("DEV_KEYS_FILE", default=str(VAR_DIR / "dev-keys.json"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
SERVICE_ENVIRONMENT = env.str("SERVICE_ENVIRONMENT", default="development")
SERVICE_RELEASE = env.str("SERVICE_RELEASE", default="dev")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_prometheus",
    "core",
    "provisioning",
    "tokens",
    "notifications",
    "decisioning",
    "transfers",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.observability.correlation.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/push_provisioning"
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transactions
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded laptop mode: several processes share one file, so wait on locks.
    # WAL lets readers go on while a worker writes; IMMEDIATE takes the write lock at
    # BEGIN, so two processes queue for it instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis and cache ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # django-redis keeps one client per connection pool (Django's own Redis backend
    # builds a new redis.Redis for every call). Short socket timeouts: a stalled Redis
    # must not hold a web worker; the rate limits fail open (core/throttling.py).
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pp",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.5),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
            },
        }
    }
else:
    # No Redis (embedded mode): a file cache is shared by web and worker processes.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("FILE_CACHE_DIR", default=str(VAR_DIR / "cache")),
        }
    }

# --- i18n, static ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Bodies larger than this are refused before a view sees them (Apple certificates fit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BYTES", default=64 * 1024)

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.auth.CustomerJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's own JSONParser lets a deeply nested body raise RecursionError (a 500).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.CustomerRateThrottle",
        "core.throttling.ClientIpRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "customer": env.str("THROTTLE_CUSTOMER_RATE", default="120/min"),
        "client_ip": env.str("THROTTLE_IP_RATE", default="600/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Push-provisioning API",
    "DESCRIPTION": "Push an M-Pesa Visa card into Google Pay, Apple Pay or Samsung Pay.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# --- customer JWT (wallet app) --------------------------------------------------------
# Public keys as {kid: PEM}; a JSON object in the environment. Several may be live
# while the identity provider rotates.
JWT_PUBLIC_KEYS: dict[str, str] = env.json("JWT_PUBLIC_KEYS", default={})
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="RS256")
JWT_ISSUER = env.str("JWT_ISSUER", default="https://auth.mpesa.example/wallet")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="push-provisioning")
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=30)
# Only dev/test/sandbox settings set these; mint_token refuses to run without them.
JWT_DEV_SIGNING_KEY: str | None = None
JWT_DEV_SIGNING_KID: str | None = None

# --- outside systems ------------------------------------------------------------------
ISSUER_BASE_URL = env.str("ISSUER_BASE_URL", default="http://127.0.0.1:8900/issuer")
ISSUER_API_KEY = env.str("ISSUER_API_KEY", default="")
TOKEN_SERVICE_BASE_URL = env.str("TOKEN_SERVICE_BASE_URL", default="http://127.0.0.1:8900/tms")
TOKEN_SERVICE_MERCHANT_ID = env.str("TOKEN_SERVICE_MERCHANT_ID", default="")
TOKEN_SERVICE_KEY_ID = env.str("TOKEN_SERVICE_KEY_ID", default="")
TOKEN_SERVICE_SHARED_SECRET = env.str("TOKEN_SERVICE_SHARED_SECRET", default="")
TOKEN_SERVICE_JWE_PUBLIC_KEY = env.str("TOKEN_SERVICE_JWE_PUBLIC_KEY", default="")
TOKEN_SERVICE_WEBHOOK_SECRETS = env.list("TOKEN_SERVICE_WEBHOOK_SECRETS", default=[])
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=64 * 1024)
PUSH_GATEWAY_BASE_URL = env.str("PUSH_GATEWAY_BASE_URL", default="http://127.0.0.1:8900/push")
SMS_GATEWAY_BASE_URL = env.str("SMS_GATEWAY_BASE_URL", default="http://127.0.0.1:8900/sms")
TELCO_BASE_URL = env.str("TELCO_BASE_URL", default="http://127.0.0.1:8900/telco")
TELCO_API_KEY = env.str("TELCO_API_KEY", default="")
# SIM-swap lookups sit on the eligibility path: a short read timeout, then the fallback.
TELCO_READ_TIMEOUT = env.float("TELCO_READ_TIMEOUT", default=2.0)
GATEWAY_API_KEY = env.str("GATEWAY_API_KEY", default="")

OUTSIDE_CONNECT_TIMEOUT = env.float("OUTSIDE_CONNECT_TIMEOUT", default=2.0)
OUTSIDE_READ_TIMEOUT = env.float("OUTSIDE_READ_TIMEOUT", default=8.0)
# Retries of transient outside errors: full-jitter exponential backoff.
OUTSIDE_MAX_ATTEMPTS = env.int("OUTSIDE_MAX_ATTEMPTS", default=6)
OUTSIDE_RETRY_BASE_SECONDS = env.float("OUTSIDE_RETRY_BASE_SECONDS", default=1.0)
OUTSIDE_RETRY_MAX_SECONDS = env.float("OUTSIDE_RETRY_MAX_SECONDS", default=60.0)
# Circuit breaker around the token service, shared by all workers through Redis.
TOKEN_SERVICE_BREAKER_FAIL_MAX = env.int("TOKEN_SERVICE_BREAKER_FAIL_MAX", default=10)
TOKEN_SERVICE_BREAKER_RESET_SECONDS = env.int("TOKEN_SERVICE_BREAKER_RESET_SECONDS", default=30)
BREAKER_FAIL_MAX = {"token_service": TOKEN_SERVICE_BREAKER_FAIL_MAX,
                    "telco": env.int("TELCO_BREAKER_FAIL_MAX", default=5)}

# --- keys for data we hold --------------------------------------------------------------
PAN_FINGERPRINT_KEY = env.str("PAN_FINGERPRINT_KEY", default="")
# Key ring for encryption at rest: {key id: base64 32-byte key}; one active.
ENCRYPTION_KEYS: dict[str, str] = env.json("ENCRYPTION_KEYS", default={})
ENCRYPTION_ACTIVE_KEY_ID = env.str("ENCRYPTION_ACTIVE_KEY_ID", default="")
OTP_HASH_KEY = env.str("OTP_HASH_KEY", default="")

# --- provisioning behaviour -----------------------------------------------------------
WALLET_PAYLOAD_TTL = timedelta(seconds=env.int("WALLET_PAYLOAD_TTL_SECONDS", default=15 * 60))
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48))
# A request sitting in a moving state longer than this is re-driven by beat.
STUCK_AFTER = {
    "received": timedelta(seconds=env.int("STUCK_RECEIVED_SECONDS", default=60)),
    "eligible": timedelta(seconds=env.int("STUCK_ELIGIBLE_SECONDS", default=60)),
    "token_requested": timedelta(seconds=env.int("STUCK_TOKEN_REQUESTED_SECONDS", default=120)),
}
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=30)
RECONCILE_BATCH_SIZE = env.int("RECONCILE_BATCH_SIZE", default=200)
# Beat re-drives a request at most this many times before failing it (poison guard).
MAX_REDRIVES = env.int("MAX_REDRIVES", default=10)

# --- step-up by one-time code -----------------------------------------------------------
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=600)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=3)
OTP_MAX_RESENDS = env.int("OTP_MAX_RESENDS", default=3)
OTP_RESEND_INTERVAL_SECONDS = env.int("OTP_RESEND_INTERVAL_SECONDS", default=60)
# A verified step-up whose activation has not finished by then is re-driven by beat.
STEP_UP_ACTIVATION_STUCK_SECONDS = env.int("STEP_UP_ACTIVATION_STUCK_SECONDS", default=60)

# --- token reconciliation ---------------------------------------------------------------
TOKEN_RECONCILE_INTERVAL_SECONDS = env.int("TOKEN_RECONCILE_INTERVAL_SECONDS", default=300)
TOKEN_RECONCILE_BATCH_SIZE = env.int("TOKEN_RECONCILE_BATCH_SIZE", default=200)
# A token is compared with the token service at most this often.
TOKEN_RECONCILE_EVERY_SECONDS = env.int("TOKEN_RECONCILE_EVERY_SECONDS", default=3600)
PAYLOAD_ERASE_INTERVAL_SECONDS = env.int("PAYLOAD_ERASE_INTERVAL_SECONDS", default=60)

# --- celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    # Longer than any countdown or retry delay we schedule, or Redis redelivers an ETA
    # task that is still waiting in a worker and it runs twice.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60),
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded mode: kombu's filesystem transport works across processes, no server.
    _broker_dir = Path(env.str("BROKER_FOLDER", default=str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast exchanges too, or kombu writes them to ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "provisioning"
# First match wins: the reconciliation patterns come before their apps' catch-alls.
CELERY_TASK_ROUTES = {
    "provisioning.tasks.reconcile_*": {"queue": "reconciliation"},
    "tokens.tasks.reconcile_*": {"queue": "reconciliation"},
    "notifications.tasks.drain_*": {"queue": "reconciliation"},
    "provisioning.tasks.*": {"queue": "provisioning"},
    "tokens.tasks.*": {"queue": "tokens"},
    "notifications.tasks.*": {"queue": "notifications"},
}
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=90)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- security headers (production tightens) ---------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- logging: JSON lines, correlation id, redaction on every handler ---------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | text
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation": {"()": "core.observability.correlation.CorrelationIdFilter"},
        "redact": {"()": "core.observability.redaction.RedactionFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["correlation", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "urllib3": {"level": "WARNING"},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")

# Per-topic settings (each file owns its knobs).
from .topic_notifications import *  # noqa: E402,F401,F403
from .topic_security import *  # noqa: E402,F401,F403
from .topic_operations import *  # noqa: E402,F401,F403
from .transfers_settings import *  # noqa

if SENTRY_DSN:
    from core.observability import sentry as _sentry

    _sentry.init(SENTRY_DSN, environment=SERVICE_ENVIRONMENT, release=SERVICE_RELEASE)
