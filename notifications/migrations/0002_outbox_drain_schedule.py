"""Installs the outbox drain into django-celery-beat's tables (notifications/schedules.py)."""

from django.db import migrations


def install_schedules(apps, schema_editor):
    from provisioning import schedules

    schedules.install(apps.get_model("django_celery_beat", "PeriodicTask"),
                      apps.get_model("django_celery_beat", "IntervalSchedule"),
                      app_label="notifications")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(install_schedules, migrations.RunPython.noop),
    ]
