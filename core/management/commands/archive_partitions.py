"""Archive and drop the months of the transition log and the notification outbox that are
past their retention (TRANSITION_LOG_RETENTION_MONTHS, NOTIFICATION_RETENTION_MONTHS).

A dry run unless --apply: it lists each month due, its rows, and whether it would be
refused. With --apply each month is written with COPY to `<--to>/<partition>.csv.gz`
(CSV with a header), read back and counted, described in `<partition>.manifest.json`
(rows, sha256 of the file, bounds), and only then DETACHed and DROPped. A month is
refused, and kept, when it still holds rows that must stay (an unsent notification),
when its archive cannot be written or does not hold every row, when a file of that name
exists, or when it changed between copy and drop. The current month, a future one and the
DEFAULT partition are never candidates. Exits 1 if any month was refused.

Restoring an archive: docs/runbook.md, "Partitions".
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import partitions


class Command(BaseCommand):
    help = "Archive (COPY to gzip CSV + manifest) and drop months past their retention."

    def add_arguments(self, parser):
        parser.add_argument("--to", type=Path, default=None,
                            help="folder for the archives (required with --apply)")
        parser.add_argument("--older-than-months", type=int, default=None,
                            help="whole months before the current one to keep (default: "
                                 "each table's retention setting)")
        parser.add_argument("--table", action="append", default=None,
                            help="only this table (repeatable)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", default=True,
                          help="list what would be archived, change nothing (the default)")
        mode.add_argument("--apply", action="store_true",
                          help="archive and drop")

    def handle(self, *args, to=None, older_than_months=None, table=None, apply=False,
               **options):
        if not partitions.supported():
            self.stdout.write("not PostgreSQL: the tables are not partitioned; nothing to do")
            return
        if older_than_months is not None and older_than_months < 1:
            raise CommandError("--older-than-months must be 1 or more")
        if apply and to is None:
            raise CommandError("--apply needs --to DIR, where the archives go")
        for name in table or []:
            try:
                partitions.table_named(name)
            except ValueError as unknown:
                raise CommandError(str(unknown)) from None
        refused, done = [], 0
        for spec, month in partitions.archive_plan(older_than_months, table):
            try:
                result = partitions.archive(spec, month, to or Path("."), dry_run=not apply)
            except partitions.ArchiveRefused as refusal:
                refused.append(month.name)
                self.stderr.write(f"refused {month.name}: {refusal}")
                continue
            done += 1
            if result.dropped:
                self.stdout.write(f"archived {month.name}: {result.rows} rows to "
                                  f"{result.file} (sha256 {result.sha256}), dropped")
            else:
                self.stdout.write(f"would archive {month.name}: {result.rows} rows "
                                  f"(dry run; --apply --to DIR to archive and drop)")
        if not done and not refused:
            self.stdout.write("nothing past its retention")
        if refused:
            raise CommandError(f"{len(refused)} month(s) refused and kept: "
                               f"{', '.join(refused)}")
