"""The monthly partitions of the transition log (and what core/partitions.py does for
every partitioned table): months after migrate, where a row lands, the DEFAULT partition,
ensure_partitions, archive_partitions, append-only on every partition. PostgreSQL."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core import partitions
from core.models import TransitionLog
from core.observability.metrics import DatabaseStateCollector

pytestmark = pytest.mark.django_db

LOG = "core_transitionlog"


def _table():
    return partitions.table_named(LOG)


def _this_month():
    return partitions.month_start(timezone.now())


def _log_row(created_at) -> int:
    """A log row written at a moment of our choosing (the ORM stamps now)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LOG} (machine, object_id, transition, from_state, to_state, "
            f"trigger, actor, reason, correlation_id, created_at) VALUES "
            f"('transfer', %s, 'submit', 'a', 'b', 'worker', '', '', '', %s) RETURNING id",
            [uuid.uuid4(), created_at])
        return cursor.fetchone()[0]


def _partition_of(table: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def _orm_row() -> TransitionLog:
    return TransitionLog.objects.create(machine="transfer", object_id=uuid.uuid4(),
                                        transition="submit", from_state="a", to_state="b",
                                        trigger="worker")


def test_after_migrate_the_log_has_this_month_three_ahead_and_a_default():
    names = [partition.name for partition in partitions.partitions(_table())]
    month = _this_month()
    for offset in range(4):
        assert _table().partition_name(partitions.add_months(month, offset)) in names
    assert _exists(f"{LOG}_default")
    assert partitions.months_ahead()[LOG] >= 3


def test_a_row_written_through_the_orm_lands_in_this_months_partition():
    row = _orm_row()
    assert _partition_of(LOG, row.pk) == _table().partition_name(_this_month())
    assert TransitionLog.objects.get(pk=row.pk).transition == "submit"


def test_a_row_no_month_takes_lands_in_the_default_partition_and_shows():
    far = timezone.now() + timedelta(days=3 * 365)
    pk = _log_row(far)
    assert _partition_of(LOG, pk) == f"{LOG}_default"
    assert partitions.default_rows()[LOG] == 1
    families = {family.name: family for family in DatabaseStateCollector().collect()}
    samples = {sample.labels["table"]: sample.value
               for sample in families["partition_default_rows"].samples}
    assert samples[LOG] == 1
    with pytest.raises(CommandError, match="DEFAULT partition holds rows"):
        call_command("ensure_partitions")


def test_ensure_moves_default_rows_into_the_month_it_creates():
    month = partitions.add_months(_this_month(), 8)
    pk = _log_row(month + timedelta(days=2))
    created = partitions.ensure(months_ahead=8)
    assert _table().partition_name(month) in created
    assert _partition_of(LOG, pk) == _table().partition_name(month)
    assert partitions.default_rows()[LOG] == 0
    # The month it made is a partition like the others: still append-only.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TransitionLog.objects.filter(pk=pk).update(reason="edited")


def test_ensure_partitions_is_idempotent():
    first = partitions.ensure(months_ahead=5)
    again = partitions.ensure(months_ahead=5)
    assert again == []
    month = partitions.add_months(_this_month(), 5)
    assert _table().partition_name(month) in first
    assert _table().partition_name(month) in {p.name for p in partitions.partitions(_table())}
    call_command("ensure_partitions", "--months-ahead", "5")  # nothing to do, exits 0


@pytest.mark.parametrize("statement", ["UPDATE {t} SET reason = 'x'", "DELETE FROM {t}"])
def test_every_partition_refuses_update_and_delete(statement):
    old, _ = _old_month(2)
    _log_row(old + timedelta(days=1))
    _log_row(timezone.now())
    _log_row(timezone.now() + timedelta(days=3 * 365))
    holding = [_table().partition_name(old), _table().partition_name(_this_month()),
               f"{LOG}_default", LOG]
    for table in holding:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(statement.format(t=table))


def _old_month(months_back: int = 15):
    month = partitions.add_months(_this_month(), -months_back)
    if month not in {partition.start for partition in partitions.partitions(_table())}:
        partitions.create_month(_table(), month)
    return month, _table().partition_name(month)


def test_archive_writes_the_month_with_a_manifest_then_drops_it(tmp_path):
    month, name = _old_month()
    ids = sorted(_log_row(month + timedelta(days=day, hours=1)) for day in range(3))
    kept = _orm_row()

    call_command("archive_partitions", "--apply", "--to", str(tmp_path), "--table", LOG)

    manifest = json.loads((tmp_path / f"{name}.manifest.json").read_text())
    data = tmp_path / f"{name}.csv.gz"
    assert manifest["rows"] == 3 and manifest["partition"] == name
    assert manifest["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    with gzip.open(data, "rt", newline="") as text:
        rows = list(csv.DictReader(text))
    assert [int(row["id"]) for row in rows] == ids
    assert not _exists(name)
    assert TransitionLog.objects.filter(pk__in=ids).count() == 0
    assert TransitionLog.objects.filter(pk=kept.pk).exists()


def test_an_archive_restores_with_copy_from(tmp_path):
    month, name = _old_month()
    pk = _log_row(month + timedelta(hours=5))
    call_command("archive_partitions", "--apply", "--to", str(tmp_path), "--table", LOG)
    # As docs/runbook.md says: a table like the log, then COPY FROM the unzipped file.
    with connection.cursor() as cursor, gzip.open(tmp_path / f"{name}.csv.gz", "rb") as data:
        cursor.execute(f"CREATE TABLE restored (LIKE {LOG})")
        with cursor.cursor.copy("COPY restored FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
            copy.write(data.read())
        cursor.execute("SELECT id, transition FROM restored")
        assert cursor.fetchall() == [(pk, "submit")]


def test_a_dry_run_changes_nothing(tmp_path, capsys):
    month, name = _old_month()
    _log_row(month + timedelta(hours=1))
    call_command("archive_partitions", "--to", str(tmp_path), "--table", LOG)
    assert f"would archive {name}: 1 rows" in capsys.readouterr().out
    assert _exists(name)
    assert list(tmp_path.iterdir()) == []


def test_the_retention_keeps_thirteen_months_by_default():
    _old_month(13)
    due = [partition.name for partition in partitions.due_for_archive(_table(), 13)]
    assert _table().partition_name(partitions.add_months(_this_month(), -13)) not in due
    _, fourteen = _old_month(14)
    assert fourteen in [p.name for p in partitions.due_for_archive(_table(), 13)]


def test_the_current_and_future_months_are_never_archived(tmp_path):
    current = next(p for p in partitions.partitions(_table()) if p.start == _this_month())
    assert current not in partitions.due_for_archive(_table(), 0)
    assert current not in partitions.due_for_archive(_table(), -5)
    with pytest.raises(partitions.ArchiveRefused, match="current or a future"):
        partitions.archive(_table(), current, tmp_path, dry_run=False)
    with pytest.raises(CommandError, match="1 or more"):
        call_command("archive_partitions", "--older-than-months", "0")
    assert _exists(current.name)


def test_an_archive_that_exists_is_never_overwritten_and_the_month_stays(tmp_path):
    month, name = _old_month()
    _log_row(month + timedelta(hours=1))
    (tmp_path / f"{name}.csv.gz").write_bytes(b"an earlier archive")
    with pytest.raises(CommandError, match="refused"):
        call_command("archive_partitions", "--apply", "--to", str(tmp_path), "--table", LOG)
    assert _exists(name)
    assert (tmp_path / f"{name}.csv.gz").read_bytes() == b"an earlier archive"
