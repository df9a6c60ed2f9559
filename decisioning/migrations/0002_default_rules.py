"""Install the default rule set (operations retune it in admin afterwards)."""

from django.db import migrations


def install(apps, schema_editor):
    from decisioning.rules import install_default_rules

    install_default_rules(apps.get_model("decisioning", "DecisionRule"),
                          apps.get_model("decisioning", "DecisionRuleVersion"))


class Migration(migrations.Migration):
    dependencies = [("decisioning", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
