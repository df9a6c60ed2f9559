"""Print customer bearer tokens signed with the dev key (sandbox and test settings only),
one line per customer id given."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.auth import mint_dev_token


class Command(BaseCommand):
    help = ("Print a wallet-app bearer JWT for each CUSTOMER_ID, one a line "
            "(dev/test/sandbox settings only).")

    def add_arguments(self, parser):
        parser.add_argument("customer_ids", nargs="+", metavar="customer_id")
        parser.add_argument("--lifetime", type=int, default=3600, help="seconds (default 3600)")

    def handle(self, *args, customer_ids, lifetime, **options):
        if not settings.JWT_DEV_SIGNING_KEY:
            raise CommandError("No dev signing key here: production tokens come from the "
                               "identity provider, never from this command.")
        for customer_id in customer_ids:
            self.stdout.write(mint_dev_token(customer_id, lifetime_seconds=lifetime))
