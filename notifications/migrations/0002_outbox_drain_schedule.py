"""Installs the outbox drain into django-celery-beat's tables (notifications/schedules.py)."""

from django.db import migrations


def install_schedules(apps, schema_editor):
    """Nothing any more: every app's jobs are synced into beat's tables after each migrate
    (core/schedules.py), from what the code declares. A migration must not call today's
    code, and this one used to."""


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(install_schedules, migrations.RunPython.noop),
    ]
