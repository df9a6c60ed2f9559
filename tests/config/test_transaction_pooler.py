"""DATABASE_TRANSACTION_POOLER: what a process behind PgBouncer in transaction mode must
not keep on its server connection between transactions (docs/capacity.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
connection.ensure_connection()
print(json.dumps({
    "server_side_cursors_disabled": settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS", False),
    "prepare_threshold": connection.connection.prepare_threshold,
}))
"""


def _probe(pooler: str | None) -> dict:
    """A fresh process's settings and its first connection, to this run's test database."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_TRANSACTION_POOLER"}
    db = connection.settings_dict
    env["DATABASE_URL"] = (f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}")
    if pooler is not None:
        env["DATABASE_TRANSACTION_POOLER"] = pooler
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_behind_a_transaction_pooler_a_connection_keeps_no_cursor_and_prepares_nothing():
    assert _probe("true") == {"server_side_cursors_disabled": True, "prepare_threshold": None}


@pytest.mark.django_db
def test_without_a_pooler_only_the_cursors_differ():
    # Django turns psycopg's prepared statements off by default; the pooler switch must
    # not be what keeps them off, or a Django upgrade could turn them on behind PgBouncer.
    assert _probe(None) == {"server_side_cursors_disabled": False, "prepare_threshold": None}
