"""Rules on Visa Direct transfers: the limits per transaction and per day by the customer's
KYC tier, and the velocity rules operations edit in admin like the provisioning rules
(versioned, four eyes on a weakening edit, shadow mode).

Pure functions of facts the caller passes in (the amount, what the customer has already
sent today, the tier and its limits; the flow's answers about earlier sends), so each rule
reads and tests on its own and decisioning never imports the transfers flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Protocol

from .models import Outcome, RuleKind
from .rules import GREEN, Verdict, _outcome


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


# --- velocity rules on transfers (editable by operations, shadow first) -----------------------

class TransferHistory(Protocol):
    """What the transfers flow knows about earlier sends, asked lazily rule by rule."""

    def senders_to_card(self, hours: float) -> int: ...  # distinct senders, this one included
    def new_cards_by_sender(self, hours: float) -> int: ...  # cards first paid in the window


@dataclass(frozen=True)
class TransferFacts:
    """What a transfer rule may look at for one send (no card number: its fingerprint)."""

    transfer_id: Any
    customer_id: str
    card_fingerprint: str
    amount: int
    now: datetime
    history: TransferHistory


def _velocity(params: dict, facts: TransferFacts, *, default_max: int, count, code: str,
              counted: str) -> Verdict:
    """`count(window_hours)` against params["max"] (this send included): yellow unless
    the rule says otherwise."""
    maximum, hours = int(params.get("max", default_max)), float(params.get("window_hours", 24))
    found = count(hours)
    if found <= maximum:
        return GREEN
    return Verdict(_outcome(params, default=Outcome.YELLOW), code,
                   {counted: found, "max": maximum, "window_hours": hours})


def senders_per_card(params: dict, facts: TransferFacts) -> Verdict:
    """params: {"max": 5, "window_hours": 24, "outcome": "yellow"}: many senders pushing
    money to one card in a short time (a mule collecting, or a card being tested)."""
    return _velocity(params, facts, default_max=5, count=facts.history.senders_to_card,
                     code="card_velocity", counted="senders")


def new_cards_per_sender(params: dict, facts: TransferFacts) -> Verdict:
    """params: {"max": 3, "window_hours": 24, "outcome": "yellow"}: one sender paying many
    cards it never paid before (a taken-over account emptied to new cards)."""
    return _velocity(params, facts, default_max=3, count=facts.history.new_cards_by_sender,
                     code="sender_velocity", counted="new_cards")


TRANSFER_KINDS: dict[str, Callable[[dict, TransferFacts], Verdict]] = {
    RuleKind.TRANSFER_SENDERS_PER_CARD: senders_per_card,
    RuleKind.TRANSFER_NEW_CARDS_PER_SENDER: new_cards_per_sender,
}

# Installed in shadow mode: recorded on every transfer, deciding nothing until operations
# have seen how often they would fire and enforce them in admin (four eyes not needed:
# enforcing only adds checks).
DEFAULT_TRANSFER_RULES = [
    {"key": "transfer-senders-per-card", "kind": RuleKind.TRANSFER_SENDERS_PER_CARD,
     "mode": "shadow", "params": {"max": 5, "window_hours": 24, "outcome": "yellow"},
     "description": "More senders than this to one recipient card in the window: review."},
    {"key": "transfer-new-cards-per-sender", "kind": RuleKind.TRANSFER_NEW_CARDS_PER_SENDER,
     "mode": "shadow", "params": {"max": 3, "window_hours": 24, "outcome": "yellow"},
     "description": "One sender paying more new cards than this in the window: review."},
]
