"""Settings of the Visa Direct flow (the `transfers` app), read from the environment.

Imported at the end of base.py (each knob has a line in the README table).
"""

import os
from datetime import timedelta

from .base import CELERY_TASK_ROUTES, DEV_KEYS_FILE, SERVICE_ENVIRONMENT, env

CELERY_TASK_ROUTES.update({
    "transfers.tasks.redrive_*": {"queue": "reconciliation"},
    "transfers.tasks.*": {"queue": "transfers"},
})

# --- outside systems (the sandbox by default) ---------------------------------------------
MPESA_BASE_URL = env.str("MPESA_BASE_URL", default="http://127.0.0.1:8900/mpesa")
MPESA_API_KEY = env.str("MPESA_API_KEY", default="")
ATTRIBUTES_BASE_URL = env.str("ATTRIBUTES_BASE_URL", default="http://127.0.0.1:8900/paai")
PAYOUTS_BASE_URL = env.str("PAYOUTS_BASE_URL", default="http://127.0.0.1:8900/pts")
PAYOUT_SEARCH_BASE_URL = env.str("PAYOUT_SEARCH_BASE_URL", default="http://127.0.0.1:8900/tss")
SCREENING_BASE_URL = env.str("SCREENING_BASE_URL", default="http://127.0.0.1:8900/screening")
SCREENING_API_KEY = env.str("SCREENING_API_KEY", default="")
# Payouts and the attributes inquiry sign with the merchant's CyberSource credentials
# (TOKEN_SERVICE_MERCHANT_ID, _KEY_ID, _SHARED_SECRET) and send the card as a JWE under
# TOKEN_SERVICE_JWE_PUBLIC_KEY: CyberSource uses one merchant key for all its APIs.

# Outside production only, an unset bearer key comes from the generated dev key file, as
# the other systems' keys do (config/settings/_dev_keys.py, which only dev and test
# apply; these two belong there once the settings refactor lands). Production reads them
# from the environment and refuses to start without them.
if SERVICE_ENVIRONMENT != "production" and not os.environ.get(
        "DJANGO_SETTINGS_MODULE", "").endswith(".production") and not (
        MPESA_API_KEY and SCREENING_API_KEY):
    from core import dev_keys as _dev_keys

    _keys = _dev_keys.load(DEV_KEYS_FILE)
    MPESA_API_KEY = MPESA_API_KEY or _keys["mpesa_api_key"]
    SCREENING_API_KEY = SCREENING_API_KEY or _keys["screening_api_key"]
    del _keys

# --- money --------------------------------------------------------------------------------
TRANSFER_CURRENCY = "KES"
# Anything above this many minor units is not an amount (400 invalid_amount), whatever
# the limits say: the ledger refuses more than 10^12.
TRANSFER_MAX_AMOUNT = env.int("TRANSFER_MAX_AMOUNT", default=10**10)
QUOTE_TTL = timedelta(seconds=env.int("TRANSFER_QUOTE_TTL_SECONDS", default=15 * 60))
# Limits by KYC tier (minor units of KES): per transaction and per rolling day of
# transfers sent or under way. The tier comes from the customer's token (`kyc_tier`).
TRANSFER_LIMITS = env.json("TRANSFER_LIMITS", default={
    "1": {"per_transaction": 7_000_000, "per_day": 15_000_000},
    "2": {"per_transaction": 15_000_000, "per_day": 30_000_000},
    "3": {"per_transaction": 25_000_000, "per_day": 50_000_000},
})
TRANSFER_DEFAULT_KYC_TIER = env.str("TRANSFER_DEFAULT_KYC_TIER", default="1")

# --- reliability --------------------------------------------------------------------------
# Status inquiries of one OCT whose outcome is unknown before it needs attention.
TRANSFER_INQUIRY_BUDGET = env.int("TRANSFER_INQUIRY_BUDGET", default=8)
TRANSFER_INQUIRY_DELAY_SECONDS = env.float("TRANSFER_INQUIRY_DELAY_SECONDS", default=2.0)
TRANSFER_STUCK_AFTER = {
    "received": timedelta(seconds=env.int("TRANSFER_STUCK_RECEIVED_SECONDS", default=60)),
    "checked": timedelta(seconds=env.int("TRANSFER_STUCK_CHECKED_SECONDS", default=60)),
    "funds_held": timedelta(seconds=env.int("TRANSFER_STUCK_FUNDS_HELD_SECONDS", default=60)),
    "submitted": timedelta(seconds=env.int("TRANSFER_STUCK_SUBMITTED_SECONDS", default=60)),
}
TRANSFER_REDRIVE_INTERVAL_SECONDS = env.int("TRANSFER_REDRIVE_INTERVAL_SECONDS", default=30)
