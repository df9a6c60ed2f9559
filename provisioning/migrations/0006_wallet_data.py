"""Wallet extra data moves from `apple_data` (plain JSON, Apple Pay only) to one generic
`wallet_data` column for every wallet's own block (tokens/wallets.py), sealed at rest.

Existing rows are carried over: each `apple_data` value is sealed into `wallet_data` of
the same row (the field binds the ciphertext to the row), then `apple_data` is dropped.
Reversible: going back opens `wallet_data` into `apple_data` again.
"""

import core.crypto.fields
from django.db import migrations, models

BATCH = 500


def carry_apple_data_over(apps, schema_editor):
    ProvisioningRequest = apps.get_model("provisioning", "ProvisioningRequest")
    rows = ProvisioningRequest.objects.filter(apple_data__isnull=False).only("pk", "apple_data")
    for row in rows.iterator(chunk_size=BATCH):
        row.wallet_data = row.apple_data
        row.save(update_fields=["wallet_data"])


def carry_wallet_data_back(apps, schema_editor):
    ProvisioningRequest = apps.get_model("provisioning", "ProvisioningRequest")
    rows = ProvisioningRequest.objects.filter(wallet_data__isnull=False).only("pk", "wallet_data")
    for row in rows.iterator(chunk_size=BATCH):
        ProvisioningRequest.objects.filter(pk=row.pk).update(apple_data=row.wallet_data)


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0005_transition_log_moves_to_core"),
    ]

    operations = [
        migrations.AddField(
            model_name="provisioningrequest",
            name="wallet_data",
            field=core.crypto.fields.EncryptedJSONField(),
        ),
        migrations.RunPython(carry_apple_data_over, carry_wallet_data_back),
        migrations.RemoveField(
            model_name="provisioningrequest",
            name="apple_data",
        ),
        migrations.AddIndex(
            model_name="provisioningrequest",
            index=models.Index(condition=models.Q(("wallet_data__isnull", False)),
                               fields=["state"], name="pr_wallet_data_idx"),
        ),
    ]
