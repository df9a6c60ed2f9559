"""The outbox's de-duplication trigger drops a twin instead of failing its statement
(PostgreSQL; docs/adr/0014-partitioned-log-and-outbox.md).

The trigger inserts the row's (object_id, event) into notifications_notification_key;
until now a twin raised the key's unique violation, which aborts the caller's
transaction unless a savepoint wrapped the insert (two more statements on every
notification). Now the key goes in with ON CONFLICT DO NOTHING and a twin is skipped
(the BEFORE trigger returns NULL): the INSERT reports no row, services._add reads that
from its RETURNING and hands back the row that was there first. Either way exactly one
row per event; the key table still holds the constraint.
"""

from django.db import migrations

KEY_TABLE = "notifications_notification_key"

DROP_TWIN = f"""
CREATE OR REPLACE FUNCTION notifications_notification_claim_key() RETURNS trigger AS $$
BEGIN
    INSERT INTO {KEY_TABLE} (object_id, event) VALUES (NEW.object_id, NEW.event)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;  -- a twin: the first row of this event stays the only one
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
REFUSE_TWIN = f"""
CREATE OR REPLACE FUNCTION notifications_notification_claim_key() RETURNS trigger AS $$
BEGIN
    INSERT INTO {KEY_TABLE} (object_id, event) VALUES (NEW.object_id, NEW.event);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_partition_outbox")]

    operations = [migrations.RunPython(_run(DROP_TWIN), _run(REFUSE_TWIN))]
