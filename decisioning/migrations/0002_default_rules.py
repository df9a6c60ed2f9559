"""Install the default rule set (operations retune it in admin afterwards)."""

from django.db import migrations


def install(apps, schema_editor):
    from decisioning.rules import DEFAULT_RULES

    Rule = apps.get_model("decisioning", "DecisionRule")
    Version = apps.get_model("decisioning", "DecisionRuleVersion")
    for item in DEFAULT_RULES:
        rule, created = Rule.objects.get_or_create(
            key=item["key"],
            defaults={"kind": str(item["kind"]), "mode": item["mode"], "params": item["params"],
                      "description": item["description"], "updated_by": "migration"},
        )
        if created:
            Version.objects.create(rule=rule, version=1, enabled=True, mode=rule.mode,
                                   params=rule.params, changed_by="migration")


class Migration(migrations.Migration):
    dependencies = [("decisioning", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
