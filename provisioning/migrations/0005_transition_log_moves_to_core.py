"""The transition log moves to the core app (every state machine writes to it, not only
provisioning's): its rows are copied into core_transitionlog with their ids, the id
sequence follows, and the old table and its append-only trigger are dropped.

Irreversible: the log is append-only, and core's table is the one written from now on.
"""

from django.db import migrations

COLUMNS = ("id, machine, object_id, transition, from_state, to_state, trigger, actor, "
           "reason, correlation_id, created_at")


def copy_rows(apps, schema_editor):
    schema_editor.execute(f"INSERT INTO core_transitionlog ({COLUMNS}) "
                          f"SELECT {COLUMNS} FROM provisioning_transitionlog ORDER BY id")
    if schema_editor.connection.vendor == "postgresql":
        # New rows continue after the copied ids (SQLite's AUTOINCREMENT follows by itself).
        schema_editor.execute(
            "SELECT setval(pg_get_serial_sequence('core_transitionlog', 'id'), "
            "COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM core_transitionlog")
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS provisioning_transitionlog_no_update "
            "ON provisioning_transitionlog")
        schema_editor.execute("DROP FUNCTION IF EXISTS provisioning_transitionlog_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0004_decisions_and_correlation"),
        ("core", "0001_initial"),
        # Reads the old table's history (who suspended each token) before it goes.
        ("tokens", "0003_token_suspended_by"),
    ]

    operations = [
        migrations.RunPython(copy_rows),
        migrations.DeleteModel(name="TransitionLog"),
    ]
