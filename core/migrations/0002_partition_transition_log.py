"""The transition log becomes a table partitioned by month of created_at (PostgreSQL;
docs/adr/0014-partitioned-log-and-outbox.md). SQLite (the embedded mode) keeps its plain table.

Every row is kept: the old table is renamed, a partitioned parent is made like it, a
partition per month from the oldest row to three months ahead plus a DEFAULT partition
are created, the rows copied over, the old table dropped. The primary key in the database
becomes (id, created_at), as a partitioned table requires; Django's state is unchanged
(it still sees `id` as the key, and ids stay unique: one sequence feeds them). PostgreSQL
15 has no identity column on a partitioned table, so `id` takes its default from a plain
sequence owned by the column. The append-only trigger is created on the parent, so every
partition, present and future, refuses UPDATE and DELETE.

From here on `manage.py ensure_partitions` (and its beat job) keeps months ahead; this
migration calls none of today's code.
"""

from datetime import UTC, datetime

from django.db import migrations

TABLE = "core_transitionlog"
MONTHS_AHEAD = 3


def _next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def _month_range(oldest: datetime | None) -> list[tuple[datetime, datetime]]:
    """(start, end) of every month from the oldest row's (or this one) to MONTHS_AHEAD on."""
    now = datetime.now(UTC)
    month = datetime(min(oldest or now, now).year, min(oldest or now, now).month, 1, tzinfo=UTC)
    last = datetime(now.year, now.month, 1, tzinfo=UTC)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    months = []
    while month <= last:
        months.append((month, _next_month(month)))
        month = _next_month(month)
    return months


def _create_partitions(schema_editor, table: str, oldest: datetime | None) -> None:
    for start, end in _month_range(oldest):
        schema_editor.execute(
            f"CREATE TABLE {table}_p{start:%Y%m} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")
    schema_editor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")


def _oldest(schema_editor, table: str) -> datetime | None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT min(created_at) FROM {table}")
        return cursor.fetchone()[0]


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_unpartitioned")
    run(f"DROP TRIGGER core_transitionlog_no_update ON {TABLE}_unpartitioned")
    run(f"ALTER TABLE {TABLE}_unpartitioned RENAME CONSTRAINT {TABLE}_pkey "
        f"TO {TABLE}_unpartitioned_pkey")
    run("ALTER INDEX transition_log_object_idx RENAME TO transition_log_object_idx_unpartitioned")
    # Frees the sequence's name (core_transitionlog_id_seq) for the new parent's.
    run(f"ALTER TABLE {TABLE}_unpartitioned ALTER COLUMN id DROP IDENTITY IF EXISTS")
    run(f"CREATE TABLE {TABLE} (LIKE {TABLE}_unpartitioned INCLUDING DEFAULTS "
        f"INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)")
    run(f"CREATE SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq')")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, created_at)")
    run(f"CREATE INDEX transition_log_object_idx ON {TABLE} (machine, object_id, id)")
    _create_partitions(schema_editor, TABLE, _oldest(schema_editor, f"{TABLE}_unpartitioned"))
    run(f"INSERT INTO {TABLE} SELECT * FROM {TABLE}_unpartitioned")
    run(f"SELECT setval('{TABLE}_id_seq', coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    run(f"DROP TABLE {TABLE}_unpartitioned")
    run(f"CREATE TRIGGER core_transitionlog_no_update BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION core_transitionlog_append_only()")


def unpartition(apps, schema_editor):
    """Back to one plain table holding every row (rows of archived partitions stay in
    their archives)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_partitioned")
    run(f"ALTER TABLE {TABLE}_partitioned RENAME CONSTRAINT {TABLE}_pkey "
        f"TO {TABLE}_partitioned_pkey")
    run("ALTER INDEX transition_log_object_idx RENAME TO transition_log_object_idx_partitioned")
    run(f"ALTER TABLE {TABLE}_partitioned ALTER COLUMN id DROP DEFAULT")
    run(f"ALTER SEQUENCE {TABLE}_id_seq RENAME TO {TABLE}_partitioned_id_seq")
    run(f"CREATE TABLE {TABLE} (LIKE {TABLE}_partitioned INCLUDING CONSTRAINTS)")
    run(f"INSERT INTO {TABLE} SELECT * FROM {TABLE}_partitioned")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
    run(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    run(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
        f"coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    run(f"CREATE INDEX transition_log_object_idx ON {TABLE} (machine, object_id, id)")
    run(f"DROP TABLE {TABLE}_partitioned CASCADE")
    run(f"CREATE TRIGGER core_transitionlog_no_update BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION core_transitionlog_append_only()")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(partition, unpartition)]
