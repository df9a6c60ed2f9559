"""The Visa Direct velocity rule kinds, and their default rules, installed in shadow mode
(frozen here as written; operations enforce them in admin once tuned)."""


from django.db import migrations, models

RULES = [
    {"key": "transfer-senders-per-card", "kind": "transfer_senders_per_card", "mode": "shadow",
     "params": {"max": 5, "window_hours": 24, "outcome": "yellow"},
     "description": "More senders than this to one recipient card in the window: review."},
    {"key": "transfer-new-cards-per-sender", "kind": "transfer_new_cards_per_sender",
     "mode": "shadow", "params": {"max": 3, "window_hours": 24, "outcome": "yellow"},
     "description": "One sender paying more new cards than this in the window: review."},
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

    dependencies = [
        ('decisioning', '0005_sim_swap_declines_by_default'),
    ]

    operations = [
        migrations.AlterField(
            model_name='decisionrule',
            name='kind',
            field=models.CharField(choices=[('card_product_wallet', 'Card product allows this wallet'), ('kyc_tier', 'Customer KYC tier'), ('sim_swap', 'Recent SIM swap'), ('active_tokens_per_card', 'Active tokens per card'), ('attempts_per_customer', 'Attempts per customer in 24 hours'), ('attempts_per_device', 'Attempts per device in 24 hours'), ('new_device', 'Device never seen for this customer'), ('transfer_senders_per_card', 'Transfers: senders to one recipient card in a window'), ('transfer_new_cards_per_sender', 'Transfers: new recipient cards per sender in a window')], max_length=32),
        ),
        migrations.AlterField(
            model_name='ruleresult',
            name='rule_kind',
            field=models.CharField(choices=[('card_product_wallet', 'Card product allows this wallet'), ('kyc_tier', 'Customer KYC tier'), ('sim_swap', 'Recent SIM swap'), ('active_tokens_per_card', 'Active tokens per card'), ('attempts_per_customer', 'Attempts per customer in 24 hours'), ('attempts_per_device', 'Attempts per device in 24 hours'), ('new_device', 'Device never seen for this customer'), ('transfer_senders_per_card', 'Transfers: senders to one recipient card in a window'), ('transfer_new_cards_per_sender', 'Transfers: new recipient cards per sender in a window')], max_length=32),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
