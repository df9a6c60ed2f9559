"""Settings for the leak test's own web and worker processes: the test settings, with broker
and cache keys under a prefix of their own.

The integration suite's worker stays alive for the whole pytest session on the same Redis
database; without the prefix it would take this stack's tasks and call its own sandbox.
"""

from config.settings.test import *  # noqa: F403
from config.settings.test import CACHES, CELERY_BROKER_TRANSPORT_OPTIONS

KEY_PREFIX = "pp-leak-"
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS,
                                   "global_keyprefix": KEY_PREFIX}
CACHES = {**CACHES, "default": {**CACHES["default"], "KEY_PREFIX": KEY_PREFIX}}
