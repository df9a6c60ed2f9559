"""Settings for operations, read from the environment (each knob has a line in the README table).

Covers: the admin site for support and operations, the internal listener, worker metrics,
the admin overview, the monthly partitions of the log and the outbox and their retention.
"""

from .env import env

# The admin is our own site (core.admin_site.ServiceAdminSite): it adds the
# overview page at /admin/overview/. Django's documented way to swap the default site is
# an AdminConfig subclass in place of "django.contrib.admin".
# base.py lists it in INSTALLED_APPS where the admin goes.
ADMIN_APP = "core.admin_site.ServiceAdminConfig"

# Port of a Celery worker's /metrics (0: none). core/observability/worker_metrics.py reads the
# variable itself, before Django starts, because it decides how prometheus_client
# counts across the prefork pool; it is repeated here to be seen in one place.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)

# Port of the internal listener: /metrics, /api/schema/ and /api/docs/ are served there
# and only there (core/listeners.py, ADR 0006). 0: one listener serving everything (dev,
# test); production requires one. config/gunicorn.py reads the same variable to bind it.
INTERNAL_PORT = env.int("INTERNAL_PORT", default=0)
# First: an internal request is answered before any public middleware sees it.
OPERATIONS_MIDDLEWARE_FIRST = ["core.listeners.ListenerMiddleware"]

# The admin overview's "outcomes" window.
ADMIN_OVERVIEW_WINDOW_MINUTES = env.int("ADMIN_OVERVIEW_WINDOW_MINUTES", default=60)

# Monthly partitions of the transition log and the notification outbox (core/partitions.py,
# docs/adr/0014-partitioned-log-and-outbox.md). Beat's `ensure partitions` job keeps the
# current month and this many more in place; anything else lands in the DEFAULT partition.
PARTITION_MONTHS_AHEAD = env.int("PARTITION_MONTHS_AHEAD", default=3)
PARTITION_ENSURE_INTERVAL_SECONDS = env.int("PARTITION_ENSURE_INTERVAL_SECONDS", default=21600)
# Whole months before the current one `manage.py archive_partitions` keeps in the
# database. PCI DSS 10.5.1 keeps audit logs 12 months, the last 3 at once available: 13
# keeps 13 whole months online (plus the current one); archives keep the rest.
TRANSITION_LOG_RETENTION_MONTHS = env.int("TRANSITION_LOG_RETENTION_MONTHS", default=13)
# The outbox holds no audit trail (the transition log does); unsent rows are never dropped.
NOTIFICATION_RETENTION_MONTHS = env.int("NOTIFICATION_RETENTION_MONTHS", default=3)
