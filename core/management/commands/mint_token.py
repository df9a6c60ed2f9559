"""Print a customer bearer token signed with the dev key (sandbox and test settings only)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.auth import mint_dev_token


class Command(BaseCommand):
    help = "Print a wallet-app bearer JWT for CUSTOMER_ID (dev/test/sandbox settings only)."

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--lifetime", type=int, default=3600, help="seconds (default 3600)")

    def handle(self, *args, customer_id, lifetime, **options):
        if not settings.JWT_DEV_SIGNING_KEY:
            raise CommandError("No dev signing key here: production tokens come from the "
                               "identity provider, never from this command.")
        self.stdout.write(mint_dev_token(customer_id, lifetime_seconds=lifetime))
