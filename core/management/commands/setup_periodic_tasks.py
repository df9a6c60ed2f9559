"""Install the periodic jobs every app declares (`<app>/schedules.py`) into beat's tables."""

from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core import schedules


class Command(BaseCommand):
    help = "Install declared beat schedules (--reset restores changed ones to the defaults)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true")

    def handle(self, *args, reset, **options):
        changed = schedules.install(PeriodicTask, IntervalSchedule, reset=reset)
        self.stdout.write(f"schedules installed or reset: {changed or 'none'}")
