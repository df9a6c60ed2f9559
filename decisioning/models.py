"""Issuer decisioning rules (editable by operations, versioned, every edit recorded, a
weakening edit held for a second operations user) and each rule's result on each
provisioning request."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class Outcome(models.TextChoices):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


SEVERITY = {Outcome.GREEN: 0, Outcome.YELLOW: 1, Outcome.RED: 2}


def most_restrictive(*outcomes: str) -> str:
    return max(outcomes, key=lambda outcome: SEVERITY[outcome], default=Outcome.GREEN)


class RuleKind(models.TextChoices):
    CARD_PRODUCT_WALLET = "card_product_wallet", "Card product allows this wallet"
    KYC_TIER = "kyc_tier", "Customer KYC tier"
    SIM_SWAP = "sim_swap", "Recent SIM swap"
    ACTIVE_TOKENS_PER_CARD = "active_tokens_per_card", "Active tokens per card"
    ATTEMPTS_PER_CUSTOMER = "attempts_per_customer", "Attempts per customer in 24 hours"
    ATTEMPTS_PER_DEVICE = "attempts_per_device", "Attempts per device in 24 hours"
    NEW_DEVICE = "new_device", "Device never seen for this customer"
    # Visa Direct transfers (decisioning.transfer_rules)
    TRANSFER_SENDERS_PER_CARD = ("transfer_senders_per_card",
                                 "Transfers: senders to one recipient card in a window")
    TRANSFER_NEW_CARDS_PER_SENDER = ("transfer_new_cards_per_sender",
                                     "Transfers: new recipient cards per sender in a window")


class Mode(models.TextChoices):
    ENFORCE = "enforce"
    SHADOW = "shadow"  # evaluated and recorded, never changes a decision


class DecisionRule(models.Model):
    key = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=RuleKind.choices)
    description = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ENFORCE)
    params = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    updated_by = models.CharField(max_length=150, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        permissions = [("edit_decisionrule", "Can edit issuer decisioning rules")]

    def __str__(self) -> str:
        return f"{self.key} v{self.version} ({self.mode})"


class DecisionRuleVersion(models.Model):
    """Every version a rule has had: who changed what, and when (append-only; the
    database refuses updates and deletes too). A weakening edit names its approver."""

    rule = models.ForeignKey(DecisionRule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    enabled = models.BooleanField()
    mode = models.CharField(max_length=8, choices=Mode.choices)
    params = models.JSONField()
    changed_by = models.CharField(max_length=150, blank=True, default="")
    # The second operations user who approved a weakening edit; empty when none was needed.
    approved_by = models.CharField(max_length=150, blank=True, default="")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"],
                                               name="rule_version_uniq")]

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("DecisionRuleVersion is append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("DecisionRuleVersion is append-only")


class ChangeStatus(models.TextChoices):
    APPLIED = "applied"  # did not weaken the rule: applied at once
    PENDING = "pending"  # weakens the rule: waits for a second operations user
    APPROVED = "approved"  # approved by a second operations user, and applied
    REJECTED = "rejected"  # refused by a second operations user; the rule never changed


class RuleChange(ConcurrentTransitionMixin, models.Model):
    """One edit of a rule, with the whole rule before and after it, who proposed it and
    who decided it: the full history of every rule, kind and key included.

    An edit that weakens an enforced rule (decisioning.weakening) is `pending` until a
    second operations user approves it (it is then applied as a new version) or rejects
    it. Nothing here is ever rewritten: a row changes once, from pending to decided, and
    the database refuses any other update and every delete.
    """

    rule = models.ForeignKey(DecisionRule, on_delete=models.PROTECT, related_name="changes")
    base_version = models.PositiveIntegerField()  # the version `before` shows (0: new rule)
    before = models.JSONField(default=dict)  # key, kind, description, enabled, mode, params
    after = models.JSONField()
    weakening = models.JSONField(default=list)  # why it weakens the rule; empty if it does not
    status = FSMField(max_length=8, choices=ChangeStatus.choices, protected=True)
    proposed_by = models.CharField(max_length=150)
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    applied_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [
            # The pending list operations work from; stays as small as what waits.
            models.Index(fields=["proposed_at"], name="rulechange_pending_idx",
                         condition=models.Q(status="pending")),
            models.Index(fields=["rule", "-proposed_at"], name="rulechange_rule_idx"),
        ]
        permissions = [("approve_rulechange",
                        "Can approve or reject a rule change that weakens a rule")]

    def __str__(self) -> str:
        return f"{self.rule.key} v{self.base_version} change by {self.proposed_by} ({self.status})"

    def delete(self, *args, **kwargs):
        raise ValueError("RuleChange is append-only")

    @transition(field=status, source=ChangeStatus.PENDING, target=ChangeStatus.APPROVED,
                permission="decisioning.approve_rulechange")
    def approve(self, *, by: str, version: int):
        self.decided_by = by
        self.decided_at = timezone.now()
        self.applied_version = version

    @transition(field=status, source=ChangeStatus.PENDING, target=ChangeStatus.REJECTED,
                permission="decisioning.approve_rulechange")
    def reject(self, *, by: str):
        self.decided_by = by
        self.decided_at = timezone.now()


class RuleResult(models.Model):
    """One rule's verdict on one request, with the inputs that mattered (support only)."""

    request = models.ForeignKey("provisioning.ProvisioningRequest", on_delete=models.CASCADE,
                                related_name="rule_results")
    rule_key = models.CharField(max_length=64)
    rule_kind = models.CharField(max_length=32, choices=RuleKind.choices)
    rule_version = models.PositiveIntegerField()
    mode = models.CharField(max_length=8, choices=Mode.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason_code = models.CharField(max_length=64, blank=True, default="")
    inputs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "rule_key"]
        indexes = [
            # "How often would this rule have fired" (admin), over recent results.
            models.Index(fields=["rule_key", "created_at"], name="ruleresult_rule_time_idx"),
        ]

    @property
    def enforced(self) -> bool:
        return self.mode == Mode.ENFORCE
