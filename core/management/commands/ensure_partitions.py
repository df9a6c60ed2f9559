"""Create the current month's partition and the coming ones for the transition log and the
notification outbox, where missing (what beat's `ensure partitions` job does); then show
each table's months and its DEFAULT partition's rows. Running it again creates nothing.

Exits 1 when a DEFAULT partition holds rows (docs/runbook.md, "Partitions"), so a check
can run it as it is.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import partitions


class Command(BaseCommand):
    help = "Create the coming months' partitions of the log and the outbox (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=None,
                            help=f"months after the current one (default "
                                 f"PARTITION_MONTHS_AHEAD, {settings.PARTITION_MONTHS_AHEAD})")

    def handle(self, *args, months_ahead=None, **options):
        if not partitions.supported():
            self.stdout.write("not PostgreSQL: the tables are not partitioned; nothing to do")
            return
        if months_ahead is not None and months_ahead < 0:
            raise CommandError("--months-ahead must be 0 or more")
        for name in partitions.ensure(months_ahead):
            self.stdout.write(f"created {name}")
        defaults = partitions.default_rows()
        ahead = partitions.months_ahead()
        for table in partitions.registered():
            self.stdout.write(f"{table.table}: {len(partitions.partitions(table))} months, "
                              f"{ahead[table.table]} ahead, "
                              f"{defaults[table.table]} rows in {table.default_partition}")
        if any(defaults.values()):
            raise CommandError("a DEFAULT partition holds rows: see docs/runbook.md, "
                               "\"Partitions\"")
