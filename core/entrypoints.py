"""The one check every entry point (manage.py, config/wsgi.py, the Celery app) makes first:
the settings module is named explicitly.

There is no default on purpose. A default baked into manage.py or an image is the mode a
process silently runs in when a deployment forgets the variable, and the dev settings
fill every key from a generated file and talk to the sandbox over plain HTTP. Production
settings refuse unsafe values; dev settings refuse nothing, so they must never be the
fallback. On a laptop the Makefile, scripts/stack.py and pytest's configuration name
the settings; a shell of one's own does it once: `set -a; . var/stack.env; set +a`.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

VARIABLE = "DJANGO_SETTINGS_MODULE"

MISSING = (
    f"{VARIABLE} is not set. Name the settings explicitly: config.settings.production in a "
    "deployment, config.settings.dev on a laptop (make up and make demo set it; in a shell: "
    f"export {VARIABLE}=config.settings.dev, or join a running stack with "
    "`set -a; . var/stack.env; set +a`), config.settings.test under pytest."
)


def require_settings_module(entry_point: str) -> str:
    """Return the settings module the environment names; refuse to go on without one."""
    value = os.environ.get(VARIABLE, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{entry_point}: {MISSING}")
    return value
