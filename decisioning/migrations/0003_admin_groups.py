"""Give the support and operations groups the decisioning permissions (view; edit rules)."""

from django.db import migrations


def sync_groups(apps, schema_editor):
    """Nothing any more: the groups are synced after each migrate (core/security.py
    sync_admin_groups). A migration must not call today's code, and this one used to."""


class Migration(migrations.Migration):
    dependencies = [
        ("decisioning", "0002_default_rules"),
        ("provisioning", "0003_security"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
