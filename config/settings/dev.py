"""Development and sandbox mode: a laptop, `make up`, `make demo`.

Keys come from var/dev-keys.json (generated on first use); the outside systems are
the sandbox (`SANDBOX_URL`, default http://127.0.0.1:8900, plus each system's mount)
unless their base URLs say otherwise.
"""

from .base import *  # noqa: F403
from datetime import timedelta

from .base import env
from . import _dev_keys

DEBUG = env.bool("DJANGO_DEBUG", default=True)
_dev_keys.apply(globals())

# A laptop demo should show beat moving a stuck request within seconds, not minutes.
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=5)
STUCK_AFTER = {
    "received": timedelta(seconds=env.int("STUCK_RECEIVED_SECONDS", default=15)),
    "eligible": timedelta(seconds=env.int("STUCK_ELIGIBLE_SECONDS", default=15)),
    "token_requested": timedelta(seconds=env.int("STUCK_TOKEN_REQUESTED_SECONDS", default=20)),
}
OUTSIDE_READ_TIMEOUT = env.float("OUTSIDE_READ_TIMEOUT", default=3.0)
# The sandbox's search never lags: a short confirmation window keeps the demo quick.
TRANSFER_NOT_FOUND_CONFIRM_SECONDS = env.float("TRANSFER_NOT_FOUND_CONFIRM_SECONDS", default=2.0)
OUTSIDE_MAX_ATTEMPTS = env.int("OUTSIDE_MAX_ATTEMPTS", default=4)
OUTSIDE_RETRY_BASE_SECONDS = env.float("OUTSIDE_RETRY_BASE_SECONDS", default=0.5)
OUTSIDE_RETRY_MAX_SECONDS = env.float("OUTSIDE_RETRY_MAX_SECONDS", default=4.0)
