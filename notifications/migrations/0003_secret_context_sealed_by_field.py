"""The notification's secret (a one-time code) moves to the one field type for secrets.

Rows still waiting to be sent keep their code: each is opened under its old binding
(field `context`) and sealed again under the new one (field `secret_context`).
"""

import core.crypto.fields
from django.db import migrations

LABEL = "notifications.notification"


def reseal(apps, schema_editor):
    from core.crypto import vault

    Notification = apps.get_model("notifications", "Notification")
    for row in Notification.objects.exclude(context_sealed="").only("pk", "context_sealed"):
        plain = vault.open_bytes(row.context_sealed, vault.context(LABEL, row.pk, "context"))
        sealed = vault.seal_bytes(plain, vault.context(LABEL, row.pk, "secret_context"))
        Notification.objects.filter(pk=row.pk).update(
            secret_context=core.crypto.fields.SealedValue(sealed))


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_outbox_drain_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="secret_context",
            field=core.crypto.fields.EncryptedJSONField(),
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="notification",
            name="context_sealed",
        ),
    ]
