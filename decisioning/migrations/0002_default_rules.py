"""Install the default rule set (operations retune it in admin afterwards).

The rows are frozen here as they were when this migration was written; later changes
to the defaults are migrations of their own (0004 moved the SIM-swap rule to decline).
"""

from django.db import migrations

RULES = [
    {"key": "card-product-wallet", "kind": "card_product_wallet", "mode": "enforce",
     "params": {"allowed_products": {}, "outcome": "red"},
     "description": "The card's product may be used in the wallet."},
    {"key": "kyc-tier", "kind": "kyc_tier", "mode": "enforce",
     "params": {"min_tier": 1, "outcome": "red"},
     "description": "Customers below this KYC tier cannot push cards."},
    {"key": "sim-swap", "kind": "sim_swap", "mode": "enforce",
     "params": {"decline_within_hours": 0, "step_up_within_hours": 168,
                "on_lookup_failure": "yellow"},
     "description": "A recent SIM swap steps up (or declines) the push."},
    {"key": "active-tokens-per-card", "kind": "active_tokens_per_card", "mode": "enforce",
     "params": {"max": 5, "outcome": "red"},
     "description": "At most this many live tokens per card."},
    {"key": "attempts-per-customer", "kind": "attempts_per_customer", "mode": "enforce",
     "params": {"max": 20, "outcome": "red"},
     "description": "At most this many pushes per customer in 24 hours."},
    {"key": "attempts-per-device", "kind": "attempts_per_device", "mode": "enforce",
     "params": {"max": 10, "outcome": "red"},
     "description": "At most this many pushes per device in 24 hours."},
    {"key": "new-device", "kind": "new_device", "mode": "shadow",
     "params": {"outcome": "yellow"},
     "description": "A device never seen for this customer steps up (shadow until tuned)."},
]


def install(apps, schema_editor):
    """Create any rule that does not exist yet (never overwrites a tuned one)."""
    rule_model = apps.get_model("decisioning", "DecisionRule")
    version_model = apps.get_model("decisioning", "DecisionRuleVersion")
    for item in RULES:
        rule, created = rule_model.objects.get_or_create(
            key=item["key"],
            defaults={"kind": item["kind"], "mode": item["mode"], "params": item["params"],
                      "description": item["description"], "updated_by": "migration"},
        )
        if created:
            version_model.objects.create(rule=rule, version=1, enabled=True, mode=rule.mode,
                                         params=rule.params, changed_by="migration")


class Migration(migrations.Migration):
    dependencies = [("decisioning", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
