"""Filling the scratch table of bench/scale.py, server-side (INSERT ... SELECT
generate_series): terminal rows, a few in flight and not yet due, and the same stuck set
at every size; and putting the stuck set back between repeats. Runs in the child, where
Django is set up."""

from __future__ import annotations

import time
from typing import Any

STUCK = 1000


def _insert_select(model, count_sql: str, overrides: dict[str, str], params: list) -> tuple[str, list]:
    """INSERT INTO <table> SELECT <one expression per column> FROM generate_series(1, n) g(i).

    Columns the overrides do not name get NULL (nullable) or the field's default as a
    parameter, so the statement follows the model as it is today.
    """
    from django.db import connection

    columns, expressions, values = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.column in overrides:
            expressions.append(overrides[field.column])
        elif field.null:
            expressions.append("NULL")
        elif field.has_default():
            expressions.append("%s")
            values.append(field.get_db_prep_save(field.get_default(), connection))
        else:
            raise RuntimeError(f"no value for {model.__name__}.{field.name}")
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "
           f"({', '.join(columns)}) SELECT {', '.join(expressions)} "
           f"FROM generate_series(1, {count_sql}) AS g(i)")
    return sql, values + list(params)  # the SELECT list's parameters come first


COMMON = {
    "customer_id": "'cust_' || (i %% 200000)",
    "card_id": "'card_' || i",
    "wallet": "'google_pay'",
    "device_id": "'dev-' || i",
    "device_type": "'phone'",
    "device_os": "'android-15'",
    "card_last4": "'1111'",
    "attempts": "0",
    "redrives": "0",
}


def fill(rows: int) -> dict[str, Any]:
    from django.db import connection

    from provisioning.models import ProvisioningRequest

    table_name = ProvisioningRequest._meta.db_table
    background = rows - STUCK
    in_flight = background // 1000
    terminal = background - in_flight
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table_name} CASCADE")
        cursor.execute("TRUNCATE notifications_notification, core_transitionlog")
        sql, params = _insert_select(ProvisioningRequest, "%s", {
            **COMMON,
            "id": "gen_random_uuid()",
            "state": "CASE WHEN i %% 20 = 0 THEN 'declined' WHEN i %% 50 = 1 THEN 'failed' "
                     "ELSE 'provisioned' END",
            "created_at": "now() - make_interval(secs => i)",
            "updated_at": "now() - make_interval(secs => i)",
            "state_changed_at": "now() - make_interval(secs => i)",
            "wallet_payload_erased_reason": "'expired'",
        }, [terminal])
        cursor.execute(sql, params)
        sql, params = _insert_select(ProvisioningRequest, "%s", {
            **COMMON,
            "id": "gen_random_uuid()",
            "card_id": "'card_inflight_' || i",
            "state": "CASE WHEN i %% 2 = 0 THEN 'token_requested' ELSE 'step_up_required' END",
            "created_at": "now()", "updated_at": "now()", "state_changed_at": "now()",
            "due_at": "now() + interval '1 hour'",
            "otp_expires_at": "CASE WHEN i %% 2 = 1 THEN now() + interval '1 hour' END",
        }, [in_flight])
        cursor.execute(sql, params)
        sql, params = _insert_select(ProvisioningRequest, str(STUCK), stuck_overrides(), [])
        cursor.execute(sql, params)
        cursor.execute(f"VACUUM ANALYZE {table_name}")
        cursor.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s)",
                       [table_name, "pr_due_idx"])
        total_bytes, due_index_bytes = cursor.fetchone()
    return {"rows": rows, "terminal": terminal, "in_flight_not_due": in_flight, "stuck": STUCK,
            "fill_seconds": round(time.perf_counter() - started, 1),
            "table_bytes": total_bytes, "due_index_bytes": due_index_bytes}


def stuck_overrides() -> dict[str, str]:
    return {
        **COMMON,
        # The same ids at every size: md5 of a fixed string, read as a uuid.
        "id": "md5('stuck-' || i)::uuid",
        "card_id": "'card_stuck_' || i",
        "state": "(ARRAY['received', 'eligible', 'token_requested', 'step_up_required'])[1 + i %% 4]",
        "created_at": "now() - interval '1 hour'",
        "updated_at": "now() - interval '1 hour'",
        "state_changed_at": "now() - interval '1 hour'",
        "due_at": "now() - make_interval(secs => 60 + i)",
        "otp_expires_at": "CASE WHEN i %% 4 = 3 THEN now() - make_interval(secs => 60 + i) END",
        "otp_hash": "CASE WHEN i %% 4 = 3 THEN repeat('0', 64) ELSE '' END",
        "otp_attempts_left": "CASE WHEN i %% 4 = 3 THEN 3 ELSE 0 END",
        "customer_msisdn": "'+254700000155'",
    }


def reset_stuck() -> None:
    """Put the stuck set back as it was (the sweeps moved it on), and drop what they wrote."""
    from django.db import connection

    from provisioning.models import ProvisioningRequest

    overrides = stuck_overrides()
    sets = ", ".join(f"{column} = s.{column}" for column in
                     ("state", "due_at", "otp_expires_at", "otp_hash", "otp_attempts_left",
                      "redrives", "attempts"))
    selects = ", ".join(f"{overrides[c]} AS {c}" for c in
                        ("id", "state", "due_at", "otp_expires_at", "otp_hash",
                         "otp_attempts_left", "redrives", "attempts"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProvisioningRequest._meta.db_table} p SET {sets}, failure_code = '', "
            f"failure_message = '' FROM (SELECT {selects} FROM generate_series(1, {STUCK}) "
            f"AS g(i)) s WHERE p.id = s.id".replace("%%", "%"))
        cursor.execute("TRUNCATE notifications_notification, core_transitionlog")
        cursor.execute(f"VACUUM ANALYZE {ProvisioningRequest._meta.db_table}")


# --- the transition log and the outbox, partitioned by month (--log-rows) -------------------

LOG_MONTHS = 12  # the current month and the 11 before it
OUTBOX_PER_LOG = 10  # one outbox row per ten log rows


def _spread(count: int) -> str:
    """created_at of row i of `count`: evenly from the start of the month 11 months back to
    now, so the rows fill LOG_MONTHS monthly partitions."""
    start = f"(date_trunc('month', now()) - interval '{LOG_MONTHS - 1} months')"
    return f"{start} + (i::float8 / {count}) * (now() - {start})"


def fill_log_and_outbox(log_rows: int) -> dict[str, Any]:
    """`log_rows` transition-log rows and a tenth as many sent outbox rows over the last 12
    months (their partitions created first), plus STUCK pending outbox rows overdue for
    the drain, in this month."""
    from django.db import connection
    from django.utils import timezone

    from core import partitions
    from core.models import TransitionLog
    from notifications.models import Notification

    started = time.perf_counter()
    month = partitions.month_start(timezone.now())
    for table in partitions.registered():
        have = {p.start for p in partitions.partitions(table)}
        for back in range(1, LOG_MONTHS):
            if partitions.add_months(month, -back) not in have:
                partitions.create_month(table, partitions.add_months(month, -back))
    outbox_rows = max(log_rows // OUTBOX_PER_LOG, 1)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_notification, core_transitionlog")
        sql, params = _insert_select(TransitionLog, "%s", {
            "id": "nextval('core_transitionlog_id_seq')",
            "machine": "(ARRAY['provisioning_request', 'token', 'transfer'])[1 + i %% 3]",
            "object_id": "md5('object-' || (i / 5))::uuid",
            "transition": "'submit'", "from_state": "'received'", "to_state": "'eligible'",
            "trigger": "'worker'", "created_at": _spread(log_rows),
        }, [log_rows])
        cursor.execute(sql, params)
        sent = {
            "id": "gen_random_uuid()", "customer_id": "'cust_' || (i %% 200000)",
            "object_id": "md5('notified-' || i)::uuid", "event": "'provisioned:' || i",
            "channel": "'sms'", "template_key": "'provisioned'", "msisdn": "'+254700000155'",
            "status": "'sent'", "created_at": _spread(outbox_rows),
            "updated_at": _spread(outbox_rows), "sent_at": _spread(outbox_rows),
            "next_attempt_at": _spread(outbox_rows),
        }
        sql, params = _insert_select(Notification, "%s", sent, [outbox_rows])
        cursor.execute(sql, params)
        sql, params = _insert_select(Notification, str(STUCK), stuck_outbox_overrides(sent), [])
        cursor.execute(sql, params)
        cursor.execute("VACUUM ANALYZE core_transitionlog")
        cursor.execute("VACUUM ANALYZE notifications_notification")
        cursor.execute("VACUUM ANALYZE notifications_notification_key")
        cursor.execute("SELECT pg_total_relation_size(relid) FROM pg_partition_tree(%s)",
                       ["core_transitionlog"])
        log_bytes = sum(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT pg_total_relation_size(relid) FROM pg_partition_tree(%s)",
                       ["notifications_notification"])
        outbox_bytes = sum(row[0] for row in cursor.fetchall())
    return {"log_rows": log_rows, "outbox_rows": outbox_rows + STUCK, "stuck_outbox": STUCK,
            "months": LOG_MONTHS, "fill_seconds": round(time.perf_counter() - started, 1),
            "log_bytes": log_bytes, "outbox_bytes": outbox_bytes}


def stuck_outbox_overrides(sent: dict[str, str]) -> dict[str, str]:
    """The same STUCK outbox rows at every size: pending, due five minutes ago."""
    return {**sent, "id": "md5('stuck-outbox-' || i)::uuid",
            "object_id": "md5('stuck-notified-' || i)::uuid", "event": "'provisioned:stuck'",
            "status": "'pending'", "sent_at": "NULL",
            "created_at": "now() - interval '10 minutes'",
            "updated_at": "now() - interval '10 minutes'",
            "next_attempt_at": "now() - make_interval(secs => 300 + i)"}


def reset_stuck_keeping_log(since) -> None:
    """reset_stuck for the --log-rows rounds: the log is append-only and filled, so what
    the sweeps logged stays (a few thousand rows); outbox rows they queued go, and the
    stuck outbox rows are overdue again."""
    from django.db import connection

    from provisioning.models import ProvisioningRequest

    overrides = stuck_overrides()
    sets = ", ".join(f"{column} = s.{column}" for column in
                     ("state", "due_at", "otp_expires_at", "otp_hash", "otp_attempts_left",
                      "redrives", "attempts"))
    selects = ", ".join(f"{overrides[c]} AS {c}" for c in
                        ("id", "state", "due_at", "otp_expires_at", "otp_hash",
                         "otp_attempts_left", "redrives", "attempts"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProvisioningRequest._meta.db_table} p SET {sets}, failure_code = '', "
            f"failure_message = '' FROM (SELECT {selects} FROM generate_series(1, {STUCK}) "
            f"AS g(i)) s WHERE p.id = s.id".replace("%%", "%"))
        cursor.execute("DELETE FROM notifications_notification WHERE created_at >= %s "
                       "AND event <> 'provisioned:stuck'", [since])
        cursor.execute("UPDATE notifications_notification SET status = 'pending', "
                       "next_attempt_at = now() - interval '5 minutes' "
                       "WHERE event = 'provisioned:stuck'")
        cursor.execute(f"VACUUM ANALYZE {ProvisioningRequest._meta.db_table}")
