"""Draw docs/state-diagrams/*.svg from the FSM declarations (core/diagram.py; each app registers its machines).

`--check` writes nothing and fails when a committed drawing differs from the code, so
a transition added without redrawing is caught.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.diagram import diagrams


class Command(BaseCommand):
    help = "Draw the state diagrams into docs/state-diagrams/ (--check: compare only)."

    def add_arguments(self, parser):
        parser.add_argument("--out",
                            default=str(Path(settings.BASE_DIR) / "docs" / "state-diagrams"))
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, out, check, **options):
        directory = Path(out)
        stale = []
        for name, svg in diagrams().items():
            path = directory / name
            current = path.read_text() if path.exists() else None
            if current == svg:
                continue
            if check:
                stale.append(name)
                continue
            directory.mkdir(parents=True, exist_ok=True)
            path.write_text(svg)
            self.stdout.write(f"drew {path}")
        if stale:
            raise CommandError(f"out of date with the FSM: {', '.join(stale)}; "
                               "run `manage.py draw_state_diagrams`")
        if check:
            self.stdout.write("state diagrams are up to date")
