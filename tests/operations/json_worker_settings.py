"""Settings of the Celery worker that test_logging.py starts: the test settings with JSON
log lines (what production writes) and every broker key under a prefix of that test's
own, so its tasks never meet another test's worker on the same Redis database."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS, LOGGING

LOGGING["handlers"]["console"]["formatter"] = "json"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": os.environ["OPS_BROKER_KEYPREFIX"],
}
