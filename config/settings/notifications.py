"""Settings for notifications, read from the environment (each knob has a line in the README table).

base.py checks NOTIFICATION_OTP_DELIVERY_SECONDS against OTP_TTL_SECONDS (a rule across
topics) and adds NOTIFICATIONS_LOGGERS to LOGGING.
"""

from .env import env

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
# The FCM project in the push gateway's path: /v1/projects/{project}/messages:send.
PUSH_PROJECT_ID = env.str("PUSH_PROJECT_ID", default="mpesa-wallet-dev")
# The Google service account the push gateway is called as (FCM HTTP v1 wants OAuth2
# access tokens for it, scope firebase.messaging): the key file's JSON, as the Cloud
# console downloads it, in the environment like every other secret. Its token_uri is
# where access tokens are bought. Dev and test fill it from the dev keys with token_uri
# aimed at the sandbox (PUSH_GATEWAY_BASE_URL + "/token"); production requires it.
PUSH_SERVICE_ACCOUNT: dict = env.json("PUSH_SERVICE_ACCOUNT", default={})
# google-auth logs each token request at DEBUG with its body and headers (the signed
# assertion, which buys access tokens for its hour). Never at DEBUG, whatever LOG_LEVEL
# says; warnings still reach our (redacting) handlers.
NOTIFICATIONS_LOGGERS = {"google": {"level": "WARNING"}}
