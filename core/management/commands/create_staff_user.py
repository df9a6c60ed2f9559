"""Create (or update) an admin user in named groups, for a local stack's demo (dev and
test settings only): `make demo` signs in as an operator and acts in admin as one would."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Create or update staff user USERNAME in the given groups, with the password in "
            "$STAFF_USER_PASSWORD (dev/test settings only).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--group", action="append", default=[], dest="groups",
                            help="a group to join (repeatable), e.g. operations")

    def handle(self, *args, username, groups, **options):
        # The same test as mint_token: only settings that hold a dev signing key are a
        # laptop's or a test's. Production staff come from the identity provider.
        if not settings.JWT_DEV_SIGNING_KEY:
            raise CommandError("Not here: production staff accounts are not made by this "
                               "command.")
        password = os.environ.get("STAFF_USER_PASSWORD", "")
        if len(password) < 12:
            raise CommandError("Set STAFF_USER_PASSWORD (12 characters or more).")
        found = {group.name: group for group in Group.objects.filter(name__in=groups)}
        missing = sorted(set(groups) - set(found))
        if missing:
            raise CommandError(f"No such group: {', '.join(missing)}.")
        user, created = get_user_model().objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = False
        user.set_password(password)
        user.save()
        user.groups.set(found.values())
        self.stdout.write(f"{'created' if created else 'updated'} {username} "
                          f"(groups: {', '.join(sorted(found)) or 'none'})")
