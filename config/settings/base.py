"""Settings shared by every mode, all read from the environment.

Each knob has a name, a development default and a line in the README's
configuration table. `production.py` replaces every embedded default with a
required variable.

This module composes the topic modules (security, notifications, operations,
outside): each imports only `env.py` and defines its own values; what a topic adds to a
list owned here (an app, a middleware, a logger) it names, and this module puts it in
place. Rules across topics are checked here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from . import notifications, operations, security, transfers
from .env import BASE_DIR, VAR_DIR, env  # noqa: F401 - BASE_DIR is a setting
from .notifications import *  # noqa: F401,F403
from .operations import *  # noqa: F401,F403
from .outside import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
from .transfers import *  # noqa: F401,F403

# Where the dev/test/sandbox key material lives (see core/dev_keys.py).
DEV_KEYS_FILE = env.str("DEV_KEYS_FILE", default=str(VAR_DIR / "dev-keys.json"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
SERVICE_ENVIRONMENT = env.str("SERVICE_ENVIRONMENT", default="development")
SERVICE_RELEASE = env.str("SERVICE_RELEASE", default="dev")

INSTALLED_APPS = [
    operations.ADMIN_APP,  # the admin, as our own site
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
    *security.SECURITY_APPS_ADDED,
]

MIDDLEWARE = [
    *operations.OPERATIONS_MIDDLEWARE_FIRST,
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.observability.correlation.CorrelationIdMiddleware",
    *security.SECURITY_MIDDLEWARE_AFTER_CORRELATION,
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    *security.SECURITY_MIDDLEWARE_LAST,
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
# Behind PgBouncer in transaction mode (docs/capacity.md) a server connection changes
# hands between transactions, so nothing may outlive one: no server-side cursors (Django's
# .iterator() opens one). Prepared statements are off already (Django passes psycopg
# prepare_threshold=None unless OPTIONS asks), and the service holds no other session
# state: its advisory locks are pg_advisory_xact_lock, released at COMMIT.
DATABASE_TRANSACTION_POOLER = env.bool("DATABASE_TRANSACTION_POOLER", default=False)
if DATABASE_TRANSACTION_POOLER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
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
    "DEFAULT_SCHEMA_CLASS": "core.openapi.AutoSchema",  # error answers documented
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": security.TRUSTED_PROXY_COUNT,
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
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "core.openapi.close_request_bodies",
                             "core.openapi.link_operations"],
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

# --- outside systems: config/settings/outside.py, from core/outside/registry.py ----------

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
# Each process reads the enabled decisioning rules at most this often (a rule saved in a
# process is seen there at once); 0 reads them for every push.
DECISION_RULES_CACHE_SECONDS = env.float("DECISION_RULES_CACHE_SECONDS", default=5.0)
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
# The periodic jobs run on `reconciliation`, so a backlog of customer work never delays
# them (and they never delay it); each app's other tasks run on the app's own queue. Exact
# names are matched before patterns; beat's entries name the same queue (*/schedules.py),
# and tests/config/test_task_routes.py holds every registered task to a queue a worker
# consumes.
CELERY_TASK_ROUTES = {
    "provisioning.tasks.redrive_due_requests_task": {"queue": "reconciliation"},
    "provisioning.tasks.sweep_step_ups_task": {"queue": "reconciliation"},
    "provisioning.tasks.erase_expired_wallet_payloads_task": {"queue": "reconciliation"},
    "tokens.tasks.reconcile_tokens_task": {"queue": "reconciliation"},
    "notifications.tasks.drain_outbox_task": {"queue": "reconciliation"},
    "core.tasks.ensure_partitions_task": {"queue": "reconciliation"},
    "provisioning.tasks.*": {"queue": "provisioning"},
    "tokens.tasks.*": {"queue": "tokens"},
    "notifications.tasks.*": {"queue": "notifications"},
    **transfers.TRANSFERS_TASK_ROUTES,
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
        # Celery's consumer writes "Task ... received" for every message, in the one process
        # that feeds the whole pool; the task's own "succeeded" / "retry" line (celery.app.trace)
        # and the transition lines already say what happened. docs/performance.md.
        "celery.worker.strategy": {"level": env.str("CELERY_RECEIVED_LOG_LEVEL", default="WARNING")},
        **notifications.NOTIFICATIONS_LOGGERS,
        **security.SECURITY_LOGGERS,
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")

# --- rules across topics ------------------------------------------------------------------
if not 0 < NOTIFICATION_OTP_DELIVERY_SECONDS <= OTP_TTL_SECONDS:  # noqa: F405
    raise ImproperlyConfigured("NOTIFICATION_OTP_DELIVERY_SECONDS must be above 0 and at most "
                               "OTP_TTL_SECONDS (a code is worthless after it expires)")

if SENTRY_DSN:
    from core.observability import sentry as _sentry

    _sentry.init(SENTRY_DSN, environment=SERVICE_ENVIRONMENT, release=SERVICE_RELEASE)
