"""Settings for notifications, read from the environment (each knob has a line in the README table).

Imported at the end of base.py, so names defined there can be read (and lists such as
INSTALLED_APPS or MIDDLEWARE extended in place) with `from .base import NAME`.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import OTP_TTL_SECONDS, env

# Sends of one notification on one channel before it fails `gateway_unavailable` (a push
# that runs out falls back to SMS, which starts its own count).
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=10)
# Full-jitter exponential backoff between sends: base, doubled per attempt, capped.
NOTIFICATION_RETRY_BASE_SECONDS = env.float("NOTIFICATION_RETRY_BASE_SECONDS", default=1.0)
NOTIFICATION_RETRY_MAX_SECONDS = env.float("NOTIFICATION_RETRY_MAX_SECONDS", default=300.0)
# Beat re-enqueues a pending row this long past its due time (its message was lost).
NOTIFICATION_DRAIN_AFTER_SECONDS = env.int("NOTIFICATION_DRAIN_AFTER_SECONDS", default=60)
NOTIFICATION_DRAIN_INTERVAL_SECONDS = env.int("NOTIFICATION_DRAIN_INTERVAL_SECONDS", default=30)
NOTIFICATION_DRAIN_BATCH_SIZE = env.int("NOTIFICATION_DRAIN_BATCH_SIZE", default=200)
# A row claimed for sending longer ago than this belongs to a dispatcher that died; beat
# sends it again. Must exceed one gateway call (OUTSIDE_CONNECT_TIMEOUT + _READ_TIMEOUT).
NOTIFICATION_SENDING_LEASE_SECONDS = env.int("NOTIFICATION_SENDING_LEASE_SECONDS", default=60)
# A one-time code's own delivery budget, from when it was queued: an SMS still failing by
# then fails for good and its step-up ends (`step_up_unreachable`), so the customer at the
# screen learns within about a minute instead of when the code expires.
NOTIFICATION_OTP_DELIVERY_SECONDS = env.int("NOTIFICATION_OTP_DELIVERY_SECONDS", default=60)
if not 0 < NOTIFICATION_OTP_DELIVERY_SECONDS <= OTP_TTL_SECONDS:
    raise ImproperlyConfigured("NOTIFICATION_OTP_DELIVERY_SECONDS must be above 0 and at most "
                               "OTP_TTL_SECONDS (a code is worthless after it expires)")
# The FCM project in the push gateway's path: /v1/projects/{project}/messages:send.
PUSH_PROJECT_ID = env.str("PUSH_PROJECT_ID", default="mpesa-wallet-dev")
