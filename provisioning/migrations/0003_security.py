"""Security (issue 4): the wallet payload becomes an EncryptedJSONField, and the admin
groups `support` (view only) and `operations` (view, change, act) are created.

The column keeps its ciphertexts: they were already sealed with the associated data
`provisioning.provisioningrequest:<pk>:wallet_payload`, which is what the field uses.
Only "no payload" changes, from an empty string to NULL.
"""

from django.db import migrations, models

import core.crypto.fields


def empty_payload_to_null(apps, schema_editor):
    ProvisioningRequest = apps.get_model("provisioning", "ProvisioningRequest")
    table = ProvisioningRequest._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {schema_editor.quote_name(table)} SET wallet_payload = NULL "
                       f"WHERE wallet_payload = ''")


def create_admin_groups(apps, schema_editor):
    """Nothing any more: the `support` and `operations` groups are synced after each
    migrate from what the code declares (core/security.py sync_admin_groups, connected in
    core's AppConfig). A migration must not call today's code, and this one used to."""


def remove_admin_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["support", "operations"]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("provisioning", "0002_transition_log_append_only_and_schedules"),
        ("tokens", "0001_initial"),
        # So the groups get the notifications permissions too (resend_notification).
        ("notifications", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="provisioningrequest", name="pr_payload_expiry_idx"),
        migrations.RenameField(model_name="provisioningrequest",
                               old_name="wallet_payload_sealed", new_name="wallet_payload"),
        migrations.AlterField(model_name="provisioningrequest", name="wallet_payload",
                              field=core.crypto.fields.EncryptedJSONField()),
        migrations.RunPython(empty_payload_to_null, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="provisioningrequest",
            index=models.Index(condition=models.Q(("wallet_payload__isnull", False)),
                               fields=["wallet_payload_expires_at"],
                               name="pr_payload_expiry_idx"),
        ),
        migrations.RunPython(create_admin_groups, remove_admin_groups),
    ]
