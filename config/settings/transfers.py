"""Settings of the Visa Direct flow (the `transfers` app), read from the environment.

Each knob has a line in the README table. The flow's outside systems (M-Pesa ledger,
attributes inquiry, payouts and their status search, screening) are registry entries
(core/outside/registry.py): their base URLs and keys come from config/settings/outside.py.
Payouts and the attributes inquiry sign with the merchant's CyberSource credentials
(TOKEN_SERVICE_MERCHANT_ID, _KEY_ID, _SHARED_SECRET) and send the card as a JWE under
TOKEN_SERVICE_JWE_PUBLIC_KEY: CyberSource uses one merchant key for all its APIs.
What this topic adds to the task routes base.py owns is `TRANSFERS_TASK_ROUTES`.
"""

from datetime import timedelta

from .env import env

TRANSFERS_TASK_ROUTES = {
    "transfers.tasks.redrive_*": {"queue": "reconciliation"},
    "transfers.tasks.reconcile_*": {"queue": "reconciliation"},
    "transfers.tasks.*": {"queue": "transfers"},
}

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
# A status search that finds no payout is believed only this long after the send (a
# search index may lag the payout); until then the inquiry waits out the window.
TRANSFER_NOT_FOUND_CONFIRM_SECONDS = env.float("TRANSFER_NOT_FOUND_CONFIRM_SECONDS", default=30.0)
TRANSFER_STUCK_AFTER = {
    "received": timedelta(seconds=env.int("TRANSFER_STUCK_RECEIVED_SECONDS", default=60)),
    "checked": timedelta(seconds=env.int("TRANSFER_STUCK_CHECKED_SECONDS", default=60)),
    "funds_held": timedelta(seconds=env.int("TRANSFER_STUCK_FUNDS_HELD_SECONDS", default=60)),
    "submitted": timedelta(seconds=env.int("TRANSFER_STUCK_SUBMITTED_SECONDS", default=60)),
}
TRANSFER_REDRIVE_INTERVAL_SECONDS = env.int("TRANSFER_REDRIVE_INTERVAL_SECONDS", default=30)

# --- reconciliation with the settlement report and the ledger ---------------------------
# Beat reconciles yesterday's (UTC) report this often, and re-checks this many days
# before it (late lines, transfers that ended days after their OCT was sent).
TRANSFER_RECONCILE_INTERVAL_SECONDS = env.int("TRANSFER_RECONCILE_INTERVAL_SECONDS",
                                              default=4 * 3600)
TRANSFER_RECONCILE_RECHECK_DAYS = env.int("TRANSFER_RECONCILE_RECHECK_DAYS", default=3)
