"""Settings for the floor run of the benchmark: dev settings plus the bench-only floor app.

    DJANGO_SETTINGS_MODULE=bench.settings

Nothing else changes, so the floor runs on the same middleware, DRF defaults, database,
broker and Celery settings as the service it is compared with.
"""

from config.settings.dev import *  # noqa: F403
from config.settings.dev import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.floor_app.apps.FloorAppConfig"]
ROOT_URLCONF = "bench.urls"
