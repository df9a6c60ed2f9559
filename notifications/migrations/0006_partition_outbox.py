"""The notification outbox becomes a table partitioned by month of created_at (PostgreSQL;
docs/adr/0014-partitioned-log-and-outbox.md). SQLite (the embedded mode) keeps its plain
table and its unique constraint.

A unique index on a partitioned table must hold the partition key, so (object_id, event)
can no longer be unique on the outbox itself. It is kept unique by a narrow plain table,
notifications_notification_key, whose primary key carries the constraint's old name
`notification_dedup_uniq`: a trigger on the outbox inserts the key in the same statement
as the row (no extra round trip), so a twin fails with the same IntegrityError as before,
whatever month either lands in. Deleting a row releases its key; a row's key and the
month of its created_at (its partition) never change; TRUNCATE empties both. Archiving
a month deletes that month's keys.

Every row is kept (copied into the new parent). The primary key in the database becomes
(id, created_at); Django's state is unchanged (it sees `id` as the key, and its
UniqueConstraint stays true, enforced by the key table).
"""

import importlib

from django.db import migrations

TABLE = "notifications_notification"
KEY_TABLE = "notifications_notification_key"
_log_migration = importlib.import_module("core.migrations.0002_partition_transition_log")

TRIGGERS_SQL = f"""
CREATE FUNCTION notifications_notification_claim_key() RETURNS trigger AS $$
BEGIN
    INSERT INTO {KEY_TABLE} (object_id, event) VALUES (NEW.object_id, NEW.event);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION notifications_notification_release_key() RETURNS trigger AS $$
BEGIN
    DELETE FROM {KEY_TABLE} WHERE object_id = OLD.object_id AND event = OLD.event;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION notifications_notification_key_fixed() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{TABLE}: object_id, event and the month of created_at never change';
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION notifications_notification_truncate_keys() RETURNS trigger AS $$
BEGIN
    TRUNCATE {KEY_TABLE};
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notifications_notification_dedup BEFORE INSERT ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION notifications_notification_claim_key();
CREATE TRIGGER notifications_notification_dedup_release AFTER DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION notifications_notification_release_key();
CREATE TRIGGER notifications_notification_dedup_fixed BEFORE UPDATE ON {TABLE}
    FOR EACH ROW WHEN (OLD.object_id IS DISTINCT FROM NEW.object_id
                       OR OLD.event IS DISTINCT FROM NEW.event
                       OR date_trunc('month', OLD.created_at AT TIME ZONE 'UTC')
                          IS DISTINCT FROM date_trunc('month', NEW.created_at AT TIME ZONE 'UTC'))
    EXECUTE FUNCTION notifications_notification_key_fixed();
CREATE TRIGGER notifications_notification_dedup_truncate AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_notification_truncate_keys();
"""
DROP_TRIGGERS_SQL = f"""
DROP TRIGGER IF EXISTS notifications_notification_dedup ON {TABLE};
DROP TRIGGER IF EXISTS notifications_notification_dedup_release ON {TABLE};
DROP TRIGGER IF EXISTS notifications_notification_dedup_fixed ON {TABLE};
DROP TRIGGER IF EXISTS notifications_notification_dedup_truncate ON {TABLE};
DROP FUNCTION IF EXISTS notifications_notification_claim_key();
DROP FUNCTION IF EXISTS notifications_notification_release_key();
DROP FUNCTION IF EXISTS notifications_notification_key_fixed();
DROP FUNCTION IF EXISTS notifications_notification_truncate_keys();
"""
INDEXES = ("notification_due_idx", "notification_customer_idx")
CREATE_INDEXES_SQL = [
    f"CREATE INDEX notification_due_idx ON {TABLE} (next_attempt_at) "
    f"WHERE status IN ('pending', 'sending')",
    f"CREATE INDEX notification_customer_idx ON {TABLE} (customer_id, created_at DESC)",
]


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run, old = schema_editor.execute, f"{TABLE}_unpartitioned"
    run(f"ALTER TABLE {TABLE} RENAME TO {old}")
    run(f"ALTER TABLE {old} RENAME CONSTRAINT {TABLE}_pkey TO {old}_pkey")
    run(f"ALTER TABLE {old} RENAME CONSTRAINT notification_dedup_uniq TO {old}_dedup_uniq")
    for index in INDEXES:
        run(f"ALTER INDEX {index} RENAME TO {index}_unpartitioned")
    run(f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        f"PARTITION BY RANGE (created_at)")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, created_at)")
    for sql in CREATE_INDEXES_SQL:
        run(sql)
    # The twin path (services._add) reads the winner by (object_id, event).
    run(f"CREATE INDEX notification_dedup_idx ON {TABLE} (object_id, event)")
    run(f"CREATE TABLE {KEY_TABLE} (object_id uuid NOT NULL, event varchar(64) NOT NULL, "
        f"CONSTRAINT notification_dedup_uniq PRIMARY KEY (object_id, event))")
    _log_migration._create_partitions(schema_editor, TABLE,
                                      _log_migration._oldest(schema_editor, old))
    run(f"INSERT INTO {KEY_TABLE} (object_id, event) SELECT object_id, event FROM {old}")
    run(f"INSERT INTO {TABLE} SELECT * FROM {old}")
    run(f"DROP TABLE {old}")
    run(TRIGGERS_SQL)


def unpartition(apps, schema_editor):
    """Back to one plain table with its unique constraint (archived months stay archived)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    run, new = schema_editor.execute, f"{TABLE}_partitioned"
    run(DROP_TRIGGERS_SQL)
    run(f"ALTER TABLE {TABLE} RENAME TO {new}")
    run(f"ALTER TABLE {new} RENAME CONSTRAINT {TABLE}_pkey TO {new}_pkey")
    for index in (*INDEXES, "notification_dedup_idx"):
        run(f"ALTER INDEX {index} RENAME TO {index}_partitioned")
    run(f"DROP TABLE {KEY_TABLE}")
    run(f"CREATE TABLE {TABLE} (LIKE {new} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    run(f"INSERT INTO {TABLE} SELECT * FROM {new}")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
    run(f"ALTER TABLE {TABLE} ADD CONSTRAINT notification_dedup_uniq UNIQUE (object_id, event)")
    for sql in CREATE_INDEXES_SQL:
        run(sql)
    run(f"DROP TABLE {new} CASCADE")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_transfer_templates"),
        ("core", "0002_partition_transition_log"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
