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
