"""Monthly partitions of the tables that grow forever: the transition log and the
notification outbox (docs/adr/0014-partitioned-log-and-outbox.md). PostgreSQL only; on
SQLite (the embedded mode) the tables are plain and every function here does nothing.

Each table is partitioned by RANGE on created_at, one partition a month named
`<table>_pYYYYMM`, plus `<table>_default` for anything no month takes, so an insert never
fails for want of a partition. Three things keep it so:

- `ensure()` (beat's `ensure partitions` job, `manage.py ensure_partitions`) creates the
  current month and PARTITION_MONTHS_AHEAD more, idempotently. Rows already in the
  DEFAULT partition for a month it creates are moved into the new month.
- `default_rows()` is what the `partition_default_rows` gauge shows: anything above 0
  means a clock or a job went wrong (docs/runbook.md).
- `archive()` (`manage.py archive_partitions`, an operator's command) writes a month past
  its retention to a gzip CSV file with a manifest, verifies it, then DETACHes and DROPs
  the month. Never the current or a future month, never the DEFAULT partition, never a
  month that still holds rows the table says must stay (an unsent notification).

An app registers its table from its AppConfig.ready() (core never imports an app above it).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from core.observability.metrics import DatabaseGauges

logger = logging.getLogger(__name__)

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class PartitionedTable:
    """One table partitioned by month of created_at."""

    table: str
    # The setting naming how many whole months before the current one are kept.
    retention_setting: str
    # Rows that must never be archived away (SQL condition), e.g. unsent notifications.
    keep_rows_where: str = ""
    # A column that moves whenever a row changes (updated_at), to notice a change made to
    # a month between its copy and its drop; empty for an append-only table.
    changed_column: str = ""
    # Statements run in the dropping transaction, before the month goes ({partition}).
    before_drop: tuple[str, ...] = field(default=())

    @property
    def default_partition(self) -> str:
        return f"{self.table}_default"

    def partition_name(self, month: datetime) -> str:
        return f"{self.table}_p{month:%Y%m}"

    @property
    def retention_months(self) -> int:
        return int(getattr(settings, self.retention_setting))


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


_TABLES: dict[str, PartitionedTable] = {}


def register(table: PartitionedTable) -> None:
    """Called by an app's ready(); the same table twice replaces (a reloaded app)."""
    _TABLES[table.table] = table


def registered() -> list[PartitionedTable]:
    return [_TABLES[name] for name in sorted(_TABLES)]


def table_named(name: str) -> PartitionedTable:
    try:
        return _TABLES[name]
    except KeyError:
        raise ValueError(f"{name} is not a partitioned table "
                         f"(known: {', '.join(sorted(_TABLES))})") from None


def supported() -> bool:
    return connection.vendor == "postgresql"


# --- months -------------------------------------------------------------------------------

def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partitions(table: PartitionedTable) -> list[Partition]:
    """The table's month partitions, oldest first (the DEFAULT partition is not one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table.table])
        rows = cursor.fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append(Partition(name, *(datetime.fromisoformat(value).astimezone(UTC)
                                           for value in match.groups())))
    return sorted(found, key=lambda partition: partition.start)


# --- ahead --------------------------------------------------------------------------------

def ensure(months_ahead: int | None = None, now: datetime | None = None) -> list[str]:
    """Create the current month's partition and `months_ahead` more, where missing, for
    every registered table; the names created. Running it again creates nothing."""
    if not supported():
        return []
    months_ahead = settings.PARTITION_MONTHS_AHEAD if months_ahead is None else months_ahead
    first = month_start(now or timezone.now())
    created = []
    for table in registered():
        have = {partition.start for partition in partitions(table)}
        for offset in range(months_ahead + 1):
            month = add_months(first, offset)
            if month not in have:
                create_month(table, month)
                created.append(table.partition_name(month))
    if created:
        logger.info("partitions created", extra={"partitions": created})
    return created


def create_month(table: PartitionedTable, month: datetime) -> None:
    """One month's partition (ensure() decides which; a test or an operator may name an
    older one)."""
    name, end = table.partition_name(month), add_months(month, 1)
    bounds = f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
    in_range = f"created_at >= '{month.isoformat()}' AND created_at < '{end.isoformat()}'"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table.default_partition} "
                       f"WHERE {in_range})")
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {table.table} {bounds}")
            return
        # The DEFAULT partition caught rows of this month: PostgreSQL refuses the new month
        # while they sit there. Detached, the DEFAULT partition has none of the parent's
        # triggers, so its rows move into the month as they are (no append-only refusal,
        # no second de-duplication key); then both are attached. Inserts wait meanwhile.
        cursor.execute(f"ALTER TABLE {table.table} DETACH PARTITION {table.default_partition}")
        cursor.execute(f"CREATE TABLE {name} (LIKE {table.table} INCLUDING DEFAULTS "
                       f"INCLUDING CONSTRAINTS)")
        cursor.execute(f"INSERT INTO {name} SELECT * FROM {table.default_partition} "
                       f"WHERE {in_range}")
        moved = cursor.rowcount
        cursor.execute(f"DELETE FROM {table.default_partition} WHERE {in_range}")
        cursor.execute(f"ALTER TABLE {table.table} ATTACH PARTITION {name} {bounds}")
        cursor.execute(f"ALTER TABLE {table.table} ATTACH PARTITION "
                       f"{table.default_partition} DEFAULT")
    logger.warning("rows moved from the default partition",
                   extra={"partition": name, "rows": moved})


def default_rows() -> dict[str, int]:
    """Rows each table's DEFAULT partition holds (0 when all is well)."""
    if not supported():
        return {}
    counts = {}
    with connection.cursor() as cursor:
        for table in registered():
            cursor.execute(f"SELECT count(*) FROM {table.default_partition}")
            counts[table.table] = cursor.fetchone()[0]
    return counts


def months_ahead(now: datetime | None = None) -> dict[str, int]:
    """Whole months after the current one each table has a partition for (a gap counts
    as the end)."""
    if not supported():
        return {}
    first = month_start(now or timezone.now())
    ahead = {}
    for table in registered():
        have = {partition.start for partition in partitions(table)}
        count = -1
        while add_months(first, count + 1) in have:
            count += 1
        ahead[table.table] = count
    return ahead


# --- archive ------------------------------------------------------------------------------

class ArchiveRefused(Exception):
    """A month that must not, or could not safely, be archived; nothing was dropped."""


@dataclass
class Archived:
    partition: str
    rows: int
    file: Path | None = None
    sha256: str = ""
    dropped: bool = False


def due_for_archive(table: PartitionedTable, older_than_months: int,
                    now: datetime | None = None) -> list[Partition]:
    """Months that ended `older_than_months` or more whole months before the current one
    began. Never the current month or a later one, whatever the number."""
    current = month_start(now or timezone.now())
    cutoff = min(add_months(current, -max(older_than_months, 0)), current)
    return [partition for partition in partitions(table) if partition.end <= cutoff]


def archive(table: PartitionedTable, partition: Partition, to: Path, *,
            dry_run: bool = True) -> Archived:
    """Write one month to `<to>/<partition>.csv.gz` with a manifest, check the file holds
    every row, then DETACH and DROP the month. Dry run: count and check only."""
    if partition.end > month_start(timezone.now()):
        raise ArchiveRefused(f"{partition.name} is the current or a future month")
    with connection.cursor() as cursor:
        rows, kept, _ = _census(cursor, table, partition.name)
    if kept:
        raise ArchiveRefused(f"{partition.name} still holds {kept} rows that must stay "
                             f"({table.keep_rows_where})")
    if dry_run:
        return Archived(partition.name, rows)
    to.mkdir(parents=True, exist_ok=True)
    data, manifest = to / f"{partition.name}.csv.gz", to / f"{partition.name}.manifest.json"
    if data.exists() or manifest.exists():
        raise ArchiveRefused(f"{data} or its manifest already exists; not overwritten")
    try:
        copied, census = _copy_out(table, partition.name, data)
        digest, read_back = _verify(data)
        if not copied == census[0] == read_back:
            raise ArchiveRefused(f"{partition.name}: {census[0]} rows, {copied} copied, "
                                 f"{read_back} in {data}")
        manifest.write_text(json.dumps({
            "table": table.table, "partition": partition.name,
            "from": partition.start.isoformat(), "to": partition.end.isoformat(),
            "rows": copied, "file": data.name, "sha256": digest, "format": "csv, header, gzip",
            "archived_at": timezone.now().isoformat(),
        }, indent=2) + "\n")
        _drop(table, partition.name, census)
    except BaseException:
        data.unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
        raise
    logger.info("partition archived and dropped",
                extra={"partition": partition.name, "rows": copied, "file": str(data)})
    return Archived(partition.name, copied, data, digest, dropped=True)


def _census(cursor, table: PartitionedTable, name: str) -> tuple[int, int, str]:
    """(rows, rows that must stay, last change) of one partition."""
    kept = (f"count(*) FILTER (WHERE {table.keep_rows_where})"
            if table.keep_rows_where else "0")
    changed = f"max({table.changed_column})::text" if table.changed_column else "''"
    cursor.execute(f"SELECT count(*), {kept}, {changed} FROM {name}")
    rows, keep, last = cursor.fetchone()
    return rows, keep, last or ""


def _copy_out(table: PartitionedTable, name: str, data: Path) -> tuple[int, tuple]:
    """COPY the month into the gzip file from one snapshot; (rows copied, census)."""
    outer = connection.in_atomic_block  # a caller's transaction (a test's) keeps its own
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        census = _census(cursor, table, name)
        with gzip.open(data, "wb") as out, cursor.cursor.copy(
                f"COPY (SELECT * FROM {name} ORDER BY id) TO STDOUT "
                f"WITH (FORMAT csv, HEADER)") as copy:
            for chunk in copy:
                out.write(chunk)
        copied = cursor.cursor.rowcount
    return copied, census


def _verify(data: Path) -> tuple[str, int]:
    """The file's sha256 and the rows it holds, read back."""
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    with gzip.open(data, "rt", newline="") as text:
        rows = sum(1 for _ in csv.reader(text)) - 1
    return digest, rows


def _drop(table: PartitionedTable, name: str, census: tuple) -> None:
    """DETACH and DROP, once the month is seen unchanged since its copy (under a lock, so
    nothing changes it between the look and the drop)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table.table}, {name} IN ACCESS EXCLUSIVE MODE")
        if _census(cursor, table, name) != census:
            raise ArchiveRefused(f"{name} changed while it was being archived; run again")
        for statement in table.before_drop:
            cursor.execute(statement.format(partition=name))
        cursor.execute(f"ALTER TABLE {table.table} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")


def archive_plan(older_than_months: int | None = None,
                 tables: list[str] | None = None) -> Iterator[tuple[PartitionedTable,
                                                                    Partition]]:
    """(table, month) pairs due for archive, each table at its own retention unless a
    number is given."""
    for table in registered():
        if tables and table.table not in tables:
            continue
        months = table.retention_months if older_than_months is None else older_than_months
        for partition in due_for_archive(table, months):
            yield table, partition


# --- gauges -------------------------------------------------------------------------------

def _families() -> list[GaugeMetricFamily]:
    return [GaugeMetricFamily("partition_default_rows",
                              "Rows in a partitioned table's DEFAULT partition (should be 0)",
                              labels=["table"]),
            GaugeMetricFamily("partition_months_ahead",
                              "Months after the current one a partitioned table has a "
                              "partition for", labels=["table"])]


def _read_gauges() -> list[GaugeMetricFamily]:
    rows, ahead = _families()
    for name, count in default_rows().items():
        rows.add_metric([name], count)
    for name, count in months_ahead().items():
        ahead.add_metric([name], count)
    return [rows, ahead]


GAUGES = DatabaseGauges("partitions", _families, _read_gauges)
