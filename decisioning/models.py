"""Issuer decisioning rules (editable by operations, versioned) and each rule's result
on each provisioning request."""

from __future__ import annotations

from django.db import models


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
    """Every version a rule has had: who changed what, and when (append-only)."""

    rule = models.ForeignKey(DecisionRule, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    enabled = models.BooleanField()
    mode = models.CharField(max_length=8, choices=Mode.choices)
    params = models.JSONField()
    changed_by = models.CharField(max_length=150, blank=True, default="")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"],
                                               name="rule_version_uniq")]


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
