"""The built-in rule kinds. Each takes the rule's params and the facts of one push and
returns an outcome with a reason code and the inputs that mattered.

Rules read the facts they are handed (the flow that asks supplies its history of earlier
pushes: decisioning never queries the apps above it) and the telco; they never write.
Thresholds come from the rule's params, so operations retune them in admin without a
deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol

from .models import Outcome, RuleKind


class History(Protocol):
    """What the asking flow knows about earlier pushes; asked lazily, rule by rule, so a
    disabled rule costs nothing and a failing count fails only its own rule."""

    def live_tokens_for_card(self) -> int: ...
    def attempts_by_customer(self) -> int: ...  # in the 24 h up to and including this one
    def attempts_by_device(self) -> int: ...
    def device_provisioned_before(self) -> bool: ...


@dataclass(frozen=True)
class Facts:
    """What a rule may look at for one push."""

    request_id: Any
    customer_id: str
    card_id: str
    wallet: str
    device_id: str
    created_at: datetime
    card_product: str
    kyc_tier: int | None
    msisdn: str
    now: datetime
    history: History


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason_code: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


GREEN = Verdict(Outcome.GREEN)


def _outcome(params: dict, key: str = "outcome", default: str = Outcome.RED) -> str:
    value = params.get(key, default)
    return value if value in Outcome.values else default


def card_product_wallet(params: dict, facts: Facts) -> Verdict:
    """params: {"allowed_products": {"apple_pay": ["visa_classic", ...]}} (absent: any)."""
    allowed = (params.get("allowed_products") or {}).get(facts.wallet)
    if allowed is None or facts.card_product in allowed:
        return GREEN
    return Verdict(_outcome(params), "card_product_not_allowed",
                   {"card_product": facts.card_product, "wallet": facts.wallet})


def kyc_tier(params: dict, facts: Facts) -> Verdict:
    """params: {"min_tier": 2, "outcome": "red"}; an unknown tier counts as below."""
    minimum = int(params.get("min_tier", 1))
    if facts.kyc_tier is not None and facts.kyc_tier >= minimum:
        return GREEN
    return Verdict(_outcome(params), "kyc_tier_too_low",
                   {"kyc_tier": facts.kyc_tier, "min_tier": minimum})


# A swap within a week is the account-takeover window the fraud team sees most (the
# attacker ports the number, then pushes the card before the victim notices the dead SIM).
SIM_SWAP_DEFAULT_DECLINE_HOURS = 168


def sim_swap(params: dict, facts: Facts) -> Verdict:
    """params: {"decline_within_hours": 168, "on_lookup_failure": "red"}.

    Only ever red or green, never yellow: the step-up sends a one-time code by SMS, and
    after a swap that SMS reaches whoever holds the new SIM, so it proves nothing. Params
    tuned before this rule declined are read safely: a `step_up_within_hours` window is
    a decline window too, and any `on_lookup_failure` other than an explicit "green"
    declines. 0 turns the window off.
    """
    from .telco import TelcoClient, TelcoUnavailable

    window = max(float(params.get("decline_within_hours", SIM_SWAP_DEFAULT_DECLINE_HOURS) or 0),
                 float(params.get("step_up_within_hours", 0) or 0))
    unknown = Outcome.GREEN if params.get("on_lookup_failure") == Outcome.GREEN else Outcome.RED
    if not facts.msisdn:
        return Verdict(unknown, "sim_swap_unknown" if unknown == Outcome.RED else "",
                       {"lookup": "no_msisdn"})
    try:
        swap = TelcoClient().last_sim_swap(facts.msisdn)
    except TelcoUnavailable as exc:
        # Never a silent green: declined unless operations chose to let pushes through.
        return Verdict(unknown, "sim_swap_unknown" if unknown == Outcome.RED else "",
                       {"lookup": exc.code})
    if swap.last_swap_at is None:
        return Verdict(Outcome.GREEN, "", {"last_swap_hours": None})
    hours = (facts.now - swap.last_swap_at).total_seconds() / 3600
    inputs = {"last_swap_hours": round(hours, 2), "decline_within_hours": window}
    if window and hours <= window:
        return Verdict(Outcome.RED, "sim_swap_recent", inputs)
    return Verdict(Outcome.GREEN, "", inputs)


def active_tokens_per_card(params: dict, facts: Facts) -> Verdict:
    """params: {"max": 5, "outcome": "red"}: live tokens the card already has."""
    maximum = int(params.get("max", 5))
    live = facts.history.live_tokens_for_card()
    if live < maximum:
        return GREEN
    return Verdict(_outcome(params), "too_many_tokens", {"live_tokens": live, "max": maximum})


def _velocity(params: dict, default_max: int, count: Callable[[], int], code: str) -> Verdict:
    """Pushes in the last 24 hours against params["max"] (this push included)."""
    maximum = int(params.get("max", default_max))
    attempts = count()
    if attempts <= maximum:
        return GREEN
    return Verdict(_outcome(params), code, {"attempts_24h": attempts, "max": maximum})


def attempts_per_customer(params: dict, facts: Facts) -> Verdict:
    """params: {"max": 10, "outcome": "red"}: pushes by this customer in 24 hours."""
    return _velocity(params, 10, facts.history.attempts_by_customer, "customer_velocity")


def attempts_per_device(params: dict, facts: Facts) -> Verdict:
    """params: {"max": 5, "outcome": "red"}: pushes from this device in 24 hours."""
    return _velocity(params, 5, facts.history.attempts_by_device, "device_velocity")


def new_device(params: dict, facts: Facts) -> Verdict:
    """params: {"outcome": "yellow"}: no earlier push from this device ever provisioned."""
    if facts.history.device_provisioned_before():
        return GREEN
    return Verdict(_outcome(params, default=Outcome.YELLOW), "new_device", {"device_seen": False})


KINDS: dict[str, Callable[[dict, Facts], Verdict]] = {
    RuleKind.CARD_PRODUCT_WALLET: card_product_wallet,
    RuleKind.KYC_TIER: kyc_tier,
    RuleKind.SIM_SWAP: sim_swap,
    RuleKind.ACTIVE_TOKENS_PER_CARD: active_tokens_per_card,
    RuleKind.ATTEMPTS_PER_CUSTOMER: attempts_per_customer,
    RuleKind.ATTEMPTS_PER_DEVICE: attempts_per_device,
    RuleKind.NEW_DEVICE: new_device,
}

# Today's defaults (the migrations carry frozen copies of what they installed);
# operations edit them afterwards.
DEFAULT_RULES = [
    {"key": "card-product-wallet", "kind": RuleKind.CARD_PRODUCT_WALLET, "mode": "enforce",
     "params": {"allowed_products": {}, "outcome": "red"},
     "description": "The card's product may be used in the wallet."},
    {"key": "kyc-tier", "kind": RuleKind.KYC_TIER, "mode": "enforce",
     "params": {"min_tier": 1, "outcome": "red"},
     "description": "Customers below this KYC tier cannot push cards."},
    {"key": "sim-swap", "kind": RuleKind.SIM_SWAP, "mode": "enforce",
     "params": {"decline_within_hours": SIM_SWAP_DEFAULT_DECLINE_HOURS,
                "on_lookup_failure": "red"},
     "description": "A recent SIM swap, or one the telco cannot confirm, declines the push."},
    {"key": "active-tokens-per-card", "kind": RuleKind.ACTIVE_TOKENS_PER_CARD,
     "mode": "enforce", "params": {"max": 5, "outcome": "red"},
     "description": "At most this many live tokens per card."},
    {"key": "attempts-per-customer", "kind": RuleKind.ATTEMPTS_PER_CUSTOMER, "mode": "enforce",
     "params": {"max": 20, "outcome": "red"},
     "description": "At most this many pushes per customer in 24 hours."},
    {"key": "attempts-per-device", "kind": RuleKind.ATTEMPTS_PER_DEVICE, "mode": "enforce",
     "params": {"max": 10, "outcome": "red"},
     "description": "At most this many pushes per device in 24 hours."},
    {"key": "new-device", "kind": RuleKind.NEW_DEVICE, "mode": "shadow",
     "params": {"outcome": "yellow"},
     "description": "A device never seen for this customer steps up (shadow until tuned)."},
]


def install_default_rules(rule_model, version_model, rules=None) -> list[str]:
    """Create any default rule (of `rules`, else the provisioning defaults) that does not
    exist yet (never overwrites a tuned one)."""
    created_keys = []
    for item in DEFAULT_RULES if rules is None else rules:
        rule, created = rule_model.objects.get_or_create(
            key=item["key"],
            defaults={"kind": str(item["kind"]), "mode": item["mode"], "params": item["params"],
                      "description": item["description"], "updated_by": "migration"},
        )
        if created:
            version_model.objects.create(rule=rule, version=1, enabled=True, mode=rule.mode,
                                         params=rule.params, changed_by="migration")
            created_keys.append(rule.key)
    return created_keys
