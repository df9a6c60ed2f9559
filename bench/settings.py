"""Settings for the floor run of the benchmark: dev settings plus the bench-only floor app.

    DJANGO_SETTINGS_MODULE=bench.settings

Nothing else changes, so the floor runs on the same middleware, DRF defaults, database,
broker and Celery settings as the service it is compared with.
"""

import os

from config.settings.dev import *  # noqa: F403
from config.settings.dev import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "bench.floor_app.apps.FloorAppConfig"]
ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_PROFILE_DIR"):
    # bench/run.py --profile: a CPU profile of every web worker and Celery pool child
    # (bench/profiling.py).
    from bench.profiling import connect_celery_signals

    MIDDLEWARE = ["bench.profiling.ProfileMiddleware", *MIDDLEWARE]
    connect_celery_signals()
