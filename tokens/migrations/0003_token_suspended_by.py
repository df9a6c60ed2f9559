"""Record who suspended a token, and fill it in for tokens suspended already.

The backfill reads each suspended token's last suspension in the transition log: the
API's was the customer's, admin's was operations', anything else (a webhook, beat's
reconciliation) the token service's. A suspended token with no such row counts as the
token service's, so only operations can lift it: the safe side. Frozen mapping, no
app code.
"""

from django.db import migrations, models

BY_TRIGGER = {"api": "customer", "admin": "operations"}


def backfill_suspended_by(apps, schema_editor):
    token_model = apps.get_model("tokens", "Token")
    log_model = apps.get_model("provisioning", "TransitionLog")
    suspended = token_model.objects.filter(state="suspended", suspended_by="")
    for token in suspended.only("pk").iterator(chunk_size=500):
        last = (log_model.objects.filter(machine="token", object_id=token.pk,
                                         to_state="suspended")
                .order_by("-id").values_list("trigger", flat=True).first())
        token_model.objects.filter(pk=token.pk).update(
            suspended_by=BY_TRIGGER.get(last, "token_service"))


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0002_reconciliation_and_one_live_token"),
        ("provisioning", "0004_decisions_and_correlation"),
    ]

    operations = [
        migrations.AddField(
            model_name="token",
            name="suspended_by",
            field=models.CharField(
                blank=True, default="", max_length=16,
                choices=[("customer", "Customer (the app)"),
                         ("operations", "Operations (admin; the user is in the history)"),
                         ("token_service", "Token service or wallet"),
                         ("issuer", "Issuer (through the token service)")]),
        ),
        migrations.RunPython(backfill_suspended_by, migrations.RunPython.noop),
    ]
