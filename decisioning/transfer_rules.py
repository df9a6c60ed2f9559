"""Limits on Visa Direct transfers: per transaction and per day, by the customer's KYC tier.

Pure functions of facts the caller passes in (the amount, what the customer has already
sent today, the tier and its limits), so the rule reads and tests on its own and
decisioning never imports the transfers flow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LimitBreach:
    limit: str  # per_transaction | per_day | kyc_tier
    limit_value: int  # minor units
    kyc_tier: str
    used_today: int = 0


def check_limits(*, amount: int, sent_today: int, kyc_tier: str,
                 limits_by_tier: dict[str, dict[str, int]]) -> LimitBreach | None:
    """The first limit `amount` would break, or None. An unknown tier may send nothing."""
    limits = limits_by_tier.get(str(kyc_tier))
    if not limits:
        return LimitBreach("kyc_tier", 0, str(kyc_tier))
    per_transaction = int(limits["per_transaction"])
    if amount > per_transaction:
        return LimitBreach("per_transaction", per_transaction, str(kyc_tier))
    per_day = int(limits["per_day"])
    if sent_today + amount > per_day:
        return LimitBreach("per_day", per_day, str(kyc_tier), used_today=sent_today)
    return None
