"""Support may look at transfers, payees, quotes and fee schedules; operations may also
review transfers, settle those that need attention, and edit the fee (each edit saves
a new version).

Frozen: the grants are listed here (as decisioning's 0004 does), not computed."""

from django.db import migrations

GRANTS = {
    "support": ["view_payee", "view_transfer", "view_quote", "view_feeschedule"],
    "operations": ["view_payee", "view_transfer", "view_quote", "view_feeschedule",
                   "change_feeschedule", "review_transfer", "resolve_transfer"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("transfers")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group_name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="transfers",
                                                         codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("transfers", "0002_first_fee_schedule"), ("auth", "0012_alter_user_first_name_max_length"),
                    ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
