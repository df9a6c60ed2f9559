"""Evaluate the issuer's rule set for one push, record every rule's result, and combine;
and edit the rules, with four eyes on any edit that weakens one.

Evaluation happens outside any transaction (the SIM-swap rule calls the telco); the
results are written by `record()` inside the transaction that moves the request out of
`received`, so a re-delivered eligibility task records them once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from prometheus_client import Counter
from rest_framework import status

from core.errors import ApplicationError, StateConflict

from .models import (
    ChangeStatus,
    DecisionRule,
    DecisionRuleVersion,
    Mode,
    Outcome,
    RuleChange,
    RuleResult,
    most_restrictive,
)
from .rules import KINDS, Facts, History, Verdict
from .transfer_rules import TRANSFER_KINDS, TransferFacts
from .weakening import SNAPSHOT_FIELDS, snapshot, weakening_reasons

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


def evaluate(request, eligibility, *, history: History, now=None) -> IssuerDecision:
    """Run the enabled rules on one push. `request` is the flow's row (its ids and
    creation time are read), `eligibility` the issuer's answer, `history` the flow's
    answers about earlier pushes (decisioning.rules.History)."""
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
        history=history,
    )
    return _run(KINDS, facts)


def evaluate_transfer(facts: TransferFacts) -> IssuerDecision:
    """Run the enabled transfer rules (decisioning.transfer_rules) on one send."""
    return _run(TRANSFER_KINDS, facts)


# The enabled rules per set of kinds, read at most every DECISION_RULES_CACHE_SECONDS by
# each process: (monotonic time read, rules). Emptied in this process by any save of a
# rule (the receiver below; rules are never deleted, only disabled); another process
# sees a change within the TTL.
_enabled: dict[tuple[str, ...], tuple[float, list[DecisionRule]]] = {}


def enabled_rules(kinds) -> list[DecisionRule]:
    """The enabled rules of these kinds, in key order (one statement per TTL, or none)."""
    key = tuple(sorted(kinds))
    ttl = settings.DECISION_RULES_CACHE_SECONDS
    cached = _enabled.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    rules = list(DecisionRule.objects.filter(enabled=True, kind__in=key).order_by("key"))
    if ttl > 0:
        _enabled[key] = (now, rules)
    return rules


@receiver(post_save, sender=DecisionRule,
          dispatch_uid="decisioning.forget_enabled_rules")
def forget_enabled_rules(**kwargs) -> None:
    _enabled.clear()


def _run(kinds: dict, facts) -> IssuerDecision:
    """Each enabled rule of these kinds on the facts; the enforced ones decide."""
    results = []
    for rule in enabled_rules(kinds):
        try:
            verdict = kinds[rule.kind](rule.params or {}, facts)
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
    RuleResult.objects.bulk_create(result_rows(RuleResult, decision, request=request))


def result_rows(model, decision: IssuerDecision, **owner) -> list:
    """One unsaved `model` row per rule result of `decision` (its rule, version, mode,
    verdict and inputs), on the flow's `owner` row; each flow stores its own."""
    return [model(rule_key=item.rule.key, rule_kind=item.rule.kind,
                  rule_version=item.rule.version, mode=item.rule.mode,
                  outcome=item.verdict.outcome, reason_code=item.verdict.reason_code,
                  inputs=item.verdict.inputs, **owner)
            for item in decision.results]


def _tier(value) -> int | None:
    """KYC tier as a number: 2, "2" and "tier_2" all mean tier 2."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = "".join(ch for ch in value if ch.isdigit())
        return int(digits) if digits else None
    return None


# --- editing rules: four eyes on a weakening edit -------------------------------------------

APPROVE_PERMISSION = "decisioning.approve_rulechange"


class ApprovalNotPermitted(ApplicationError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    message = "Only operations may approve or reject a rule change."


class FourEyesRequired(ApplicationError):
    code = "four_eyes_required"
    status_code = status.HTTP_403_FORBIDDEN
    message = "A change that weakens a rule must be approved by another operations user."


class RuleChangeNotPending(StateConflict):
    code = "rule_change_not_pending"
    message = "This rule change has already been decided."


class RuleChangeStale(StateConflict):
    code = "rule_change_stale"
    message = ("The rule has changed since this change was proposed; reject it and propose "
               "it again against the current rule.")


class RuleKeyTaken(StateConflict):
    code = "rule_key_taken"
    message = "Another rule has taken this change's key since it was proposed."


def save_rule(rule: DecisionRule, *, user) -> RuleChange:
    """Save a rule edited (or added) in admin, and record the edit with the whole rule
    before and after it.

    An edit that does not weaken the rule (decisioning.weakening) is applied at once as a
    new version. One that weakens an enforced rule is only recorded, `pending`: the rule
    stays as it is until another operations user approves it (approve_rule_change).
    `rule` carries the edited values, unsaved.
    """
    username = _username(user)
    after = snapshot(rule)
    with transaction.atomic():
        # Locked so that two edits of one rule get consecutive versions, and `before` is
        # the version the edit replaces.
        current = (DecisionRule.objects.select_for_update().get(pk=rule.pk)
                   if rule.pk else None)
        before = snapshot(current) if current is not None else {}
        base_version = current.version if current is not None else 0
        reasons = weakening_reasons(before, after)
        if reasons:
            change = RuleChange.objects.create(
                rule=current, base_version=base_version, before=before, after=after,
                weakening=reasons, status=ChangeStatus.PENDING, proposed_by=username)
            logger.info("weakening rule change held for approval",
                        extra={"rule": current.key, "change_id": change.pk,
                               "actor": username, "weakening": reasons})
            return change
        version = _apply(rule, after, version=base_version + 1, changed_by=username)
        return RuleChange.objects.create(
            rule=rule, base_version=base_version, before=before, after=after,
            status=ChangeStatus.APPLIED, proposed_by=username, decided_at=version.changed_at,
            applied_version=version.version)


def approve_rule_change(change_id: int, *, user) -> RuleChange:
    """A second operations user approves a pending (weakening) change: it is applied as a
    new version naming its proposer and its approver. Refused to the proposer, to anyone
    without the permission, and when the rule moved on since the proposal."""
    username = _username(user)
    if not user.has_perm(APPROVE_PERMISSION):
        raise ApprovalNotPermitted()
    with transaction.atomic():
        change = _pending(change_id)
        if change.proposed_by == username:
            raise FourEyesRequired(details={"proposed_by": change.proposed_by})
        rule = DecisionRule.objects.select_for_update().get(pk=change.rule_id)
        if rule.version != change.base_version:
            raise RuleChangeStale(details={"proposed_against_version": change.base_version,
                                           "current_version": rule.version})
        if DecisionRule.objects.filter(key=change.after["key"]).exclude(pk=rule.pk).exists():
            raise RuleKeyTaken(details={"key": change.after["key"]})
        version = _apply(rule, change.after, version=rule.version + 1,
                         changed_by=change.proposed_by, approved_by=username)
        change.approve(by=username, version=version.version)
        change.save()
    logger.info("rule change approved", extra={"rule": rule.key, "change_id": change.pk,
                                               "actor": username, "version": version.version})
    return change


def reject_rule_change(change_id: int, *, user) -> RuleChange:
    """Refuse a pending change (its proposer may withdraw it too); the rule never changed."""
    username = _username(user)
    if not user.has_perm(APPROVE_PERMISSION):
        raise ApprovalNotPermitted()
    with transaction.atomic():
        change = _pending(change_id)
        change.reject(by=username)
        change.save()
    logger.info("rule change rejected", extra={"change_id": change.pk, "actor": username})
    return change


def _pending(change_id: int) -> RuleChange:
    change = RuleChange.objects.select_for_update().get(pk=change_id)
    if change.status != ChangeStatus.PENDING:
        raise RuleChangeNotPending(details={"status": change.status})
    return change


def _apply(rule: DecisionRule, after: dict, *, version: int, changed_by: str,
           approved_by: str = "") -> DecisionRuleVersion:
    """Write the edited values as the rule's new version (inside the caller's transaction,
    with the rule row locked)."""
    for name in SNAPSHOT_FIELDS:
        setattr(rule, name, after[name])
    rule.version = version
    rule.updated_by = changed_by
    rule.save()
    return DecisionRuleVersion.objects.create(
        rule=rule, version=rule.version, enabled=rule.enabled, mode=rule.mode,
        params=rule.params, changed_by=changed_by, approved_by=approved_by,
    )


def _username(user) -> str:
    return getattr(user, "get_username", lambda: "")() or ""


def firing_counts(since) -> dict[str, dict[str, int]]:
    """How often each rule said yellow or red since a time, by mode: what shadow mode
    is for (would this threshold have fired on live traffic?)."""
    from django.db.models import Count

    from django.apps import apps

    counts: dict[str, dict[str, int]] = {}
    # The transfers flow keeps its own results (it sits above decisioning, which never
    # imports it): read by model name when that app is installed.
    models = [RuleResult]
    if apps.is_installed("transfers"):
        models.append(apps.get_model("transfers", "TransferRuleResult"))
    for model in models:
        rows = (model.objects.filter(created_at__gte=since)
                .values("rule_key", "outcome").annotate(n=Count("id")))
        for row in rows:
            bucket = counts.setdefault(row["rule_key"], {})
            bucket[row["outcome"]] = bucket.get(row["outcome"], 0) + row["n"]
    return counts
