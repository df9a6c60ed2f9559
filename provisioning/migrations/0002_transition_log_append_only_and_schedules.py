"""TransitionLog becomes append-only in the database too; default beat schedules."""

from django.db import migrations

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION provisioning_transitionlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'provisioning_transitionlog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER provisioning_transitionlog_no_update
    BEFORE UPDATE OR DELETE ON provisioning_transitionlog
    FOR EACH ROW EXECUTE FUNCTION provisioning_transitionlog_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS provisioning_transitionlog_no_update ON provisioning_transitionlog;
DROP FUNCTION IF EXISTS provisioning_transitionlog_append_only();
"""


def make_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def undo_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def install_schedules(apps, schema_editor):
    """Nothing any more: every app's jobs are synced into beat's tables after each migrate
    (core/schedules.py), from what the code declares. A migration must not call today's
    code, and this one used to."""


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(make_append_only, undo_append_only),
        migrations.RunPython(install_schedules, migrations.RunPython.noop),
    ]
