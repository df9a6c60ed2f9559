"""The first fee schedule (frozen: the row is carried here, not computed by today's code)."""

from django.db import migrations


def install(apps, schema_editor):
    FeeSchedule = apps.get_model("transfers", "FeeSchedule")
    FeeSchedule.objects.get_or_create(version=1, defaults={
        "fixed_fee": 2500, "percent_bps": 100, "min_fee": 2500, "max_fee": 30000,
        "created_by": "migration", "note": "KES 25 plus 1%, at most KES 300"})


def remove(apps, schema_editor):
    apps.get_model("transfers", "FeeSchedule").objects.filter(version=1,
                                                               created_by="migration").delete()


class Migration(migrations.Migration):
    dependencies = [("transfers", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
