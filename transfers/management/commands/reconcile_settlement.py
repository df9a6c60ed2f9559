"""Reconcile one report day by hand (`--date YYYY-MM-DD`, default yesterday UTC): the same
comparison beat runs, recorded as a run with trigger `admin`; exits 1 when it failed."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.models import Trigger
from transfers import reconciliation


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = "Reconcile a day's settlement report and the M-Pesa ledger with our transfers."

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="day", type=str, default="",
                            help="the report day, YYYY-MM-DD (UTC); default yesterday")

    def handle(self, *args, day, **options):
        report_date = _day(day) if day else timezone.now().date() - timedelta(days=1)
        if report_date >= timezone.now().date():
            raise CommandError("only a day that has ended has a settlement report")
        run = reconciliation.reconcile_day(report_date, trigger=Trigger.ADMIN)
        self.stdout.write(
            f"{run.report_date}: {run.status}; {run.report_lines} report lines, "
            f"{run.transfers_checked} transfers checked, {run.mismatches_found} mismatches "
            f"({run.mismatches_new} new, {run.mismatches_cleared} cleared)"
            + (f"; {run.error_code}: {run.error_message}" if run.error_code else ""))
        if run.status != run.Status.SUCCEEDED:
            raise CommandError(f"reconciliation of {run.report_date} failed: {run.error_code}")
