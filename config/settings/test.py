"""pytest settings: real PostgreSQL and Redis, short timeouts and retry delays.

Tests use their own Redis databases (14 for cache and breaker, 15 for the broker) so a
dev stack running beside them never takes their tasks.
"""

import os
from pathlib import Path

# TEST_STACK_MODE=embedded runs the suite (in practice the tests marked `embedded`) the
# way a laptop with only Python runs the service: an SQLite file shared by the test
# process, the live server and the worker, kombu's filesystem broker, a file cache.
TEST_STACK_MODE = os.environ.get("TEST_STACK_MODE", "services")
if TEST_STACK_MODE == "embedded":
    _embedded = Path(__file__).resolve().parents[2] / "var" / "test-embedded"
    _embedded.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{_embedded / 'db.sqlite3'}")
    os.environ.setdefault("CELERY_BROKER_URL", "filesystem://")
    os.environ.setdefault("REDIS_URL", "")
    os.environ.setdefault("BROKER_FOLDER", str(_embedded / "broker"))
    os.environ.setdefault("FILE_CACHE_DIR", str(_embedded / "cache"))
elif TEST_STACK_MODE != "services":
    raise RuntimeError(f"TEST_STACK_MODE must be services or embedded, not {TEST_STACK_MODE!r}")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402
from . import _dev_keys  # noqa: E402

DEBUG = False
_dev_keys.apply(globals())
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not pytest-django's in-memory default: the worker process opens it too.
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["NAME"] + ".test"}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
OUTSIDE_CONNECT_TIMEOUT = env.float("OUTSIDE_CONNECT_TIMEOUT", default=1.0)
OUTSIDE_READ_TIMEOUT = env.float("OUTSIDE_READ_TIMEOUT", default=1.0)
OUTSIDE_MAX_ATTEMPTS = env.int("OUTSIDE_MAX_ATTEMPTS", default=4)
TRANSFER_NOT_FOUND_CONFIRM_SECONDS = env.float("TRANSFER_NOT_FOUND_CONFIRM_SECONDS", default=0.5)
OUTSIDE_RETRY_BASE_SECONDS = env.float("OUTSIDE_RETRY_BASE_SECONDS", default=0.1)
OUTSIDE_RETRY_MAX_SECONDS = env.float("OUTSIDE_RETRY_MAX_SECONDS", default=0.4)
# A one-time code whose SMS keeps failing ends its step-up after a few seconds, not a minute.
NOTIFICATION_OTP_DELIVERY_SECONDS = env.int("NOTIFICATION_OTP_DELIVERY_SECONDS", default=4)
# The test process and the live worker are separate processes: a rule a test changes
# must reach the worker's next push (tests/decisioning covers the cache itself).
DECISION_RULES_CACHE_SECONDS = env.float("DECISION_RULES_CACHE_SECONDS", default=0.0)
LOG_FORMAT = "text"
LOGGING["handlers"]["console"]["formatter"] = "text"  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "customer": env.str("THROTTLE_CUSTOMER_RATE", default="10000/min"),
    "client_ip": env.str("THROTTLE_IP_RATE", default="10000/min"),
}
