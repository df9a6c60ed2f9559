"""Evaluate the issuer's rule set for one push, record every rule's result, and combine.

Evaluation happens outside any transaction (the SIM-swap rule calls the telco); the
results are written by `record()` inside the transaction that moves the request out of
`received`, so a re-delivered eligibility task records them once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from .models import DecisionRule, DecisionRuleVersion, Mode, Outcome, RuleResult, most_restrictive
from .rules import KINDS, Facts, Verdict

logger = logging.getLogger(__name__)

RULE_OUTCOMES = Counter("decisioning_rule_outcomes_total",
                        "Rule verdicts by rule, mode and outcome", ["rule", "mode", "outcome"])


@dataclass(frozen=True)
class Evaluated:
    rule: DecisionRule
    verdict: Verdict


@dataclass(frozen=True)
class IssuerDecision:
    outcome: str  # green | yellow | red, from enforced rules only
    reason_codes: list[str]
    results: list[Evaluated]


def evaluate(request, eligibility, *, now=None) -> IssuerDecision:
    facts = Facts(
        request_id=request.pk,
        customer_id=request.customer_id,
        card_id=request.card_id,
        wallet=request.wallet,
        device_id=request.device_id,
        created_at=request.created_at,
        card_product=eligibility.card_product,
        kyc_tier=_tier(eligibility.kyc_tier),
        msisdn=eligibility.customer_msisdn,
        now=now or timezone.now(),
    )
    results = []
    for rule in DecisionRule.objects.filter(enabled=True).order_by("key"):
        try:
            verdict = KINDS[rule.kind](rule.params or {}, facts)
        except Exception:  # a broken rule must not pass a push silently, nor crash it
            logger.exception("decisioning rule failed", extra={"rule": rule.key})
            verdict = Verdict(Outcome.YELLOW, "rule_error", {})
        results.append(Evaluated(rule, verdict))
        RULE_OUTCOMES.labels(rule.key, rule.mode, verdict.outcome).inc()
    enforced = [item for item in results if item.rule.mode == Mode.ENFORCE]
    outcome = most_restrictive(*(item.verdict.outcome for item in enforced))
    reasons = sorted({item.verdict.reason_code for item in enforced
                      if item.verdict.outcome == outcome and outcome != Outcome.GREEN
                      and item.verdict.reason_code})
    return IssuerDecision(outcome, reasons, results)


def record(request, decision: IssuerDecision) -> None:
    """Store every rule's result on the request; call inside the moving transaction."""
    RuleResult.objects.bulk_create([
        RuleResult(request=request, rule_key=item.rule.key, rule_kind=item.rule.kind,
                   rule_version=item.rule.version, mode=item.rule.mode,
                   outcome=item.verdict.outcome, reason_code=item.verdict.reason_code,
                   inputs=item.verdict.inputs)
        for item in decision.results
    ])


def _tier(value) -> int | None:
    """KYC tier as a number: 2, "2" and "tier_2" all mean tier 2."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = "".join(ch for ch in value if ch.isdigit())
        return int(digits) if digits else None
    return None


def save_rule(rule: DecisionRule, *, user) -> DecisionRule:
    """Save an edited rule as a new version, recording who changed it and when."""
    with transaction.atomic():
        if rule.pk:
            current = DecisionRule.objects.select_for_update().get(pk=rule.pk)
            rule.version = current.version + 1
        rule.updated_by = getattr(user, "username", "") or ""
        rule.save()
        DecisionRuleVersion.objects.create(
            rule=rule, version=rule.version, enabled=rule.enabled, mode=rule.mode,
            params=rule.params, changed_by=rule.updated_by,
        )
    return rule


def firing_counts(since) -> dict[str, dict[str, int]]:
    """How often each rule said yellow or red since a time, by mode: what shadow mode
    is for (would this threshold have fired on live traffic?)."""
    from django.db.models import Count

    counts: dict[str, dict[str, int]] = {}
    rows = (RuleResult.objects.filter(created_at__gte=since)
            .values("rule_key", "outcome").annotate(n=Count("id")))
    for row in rows:
        counts.setdefault(row["rule_key"], {})[row["outcome"]] = row["n"]
    return counts
