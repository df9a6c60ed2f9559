"""The transition log, now the core app's: the table every state machine appends to, and
the database trigger that refuses to update or delete a row of it (PostgreSQL).

Its rows move over from provisioning's old table in provisioning/0005.
"""

from django.db import migrations, models

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION core_transitionlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'core_transitionlog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_transitionlog_no_update
    BEFORE UPDATE OR DELETE ON core_transitionlog
    FOR EACH ROW EXECUTE FUNCTION core_transitionlog_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS core_transitionlog_no_update ON core_transitionlog;
DROP FUNCTION IF EXISTS core_transitionlog_append_only();
"""


def make_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def undo_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="TransitionLog",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("machine", models.CharField(max_length=32)),
                ("object_id", models.UUIDField()),
                ("transition", models.CharField(max_length=64)),
                ("from_state", models.CharField(max_length=32)),
                ("to_state", models.CharField(max_length=32)),
                ("trigger", models.CharField(choices=[("api", "Api"), ("worker", "Worker"),
                                                      ("webhook", "Webhook"), ("beat", "Beat"),
                                                      ("admin", "Admin")], max_length=16)),
                ("actor", models.CharField(blank=True, default="", max_length=150)),
                ("reason", models.CharField(blank=True, default="", max_length=255)),
                ("correlation_id", models.CharField(blank=True, default="", max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["object_id", "id"],
                "indexes": [models.Index(fields=["machine", "object_id", "id"],
                                         name="transition_log_object_idx")],
            },
        ),
        migrations.RunPython(make_append_only, undo_append_only),
    ]
