"""Settings for operations, read from the environment (each knob has a line in the README table).

Covers: the admin site for support and operations, the internal listener, worker metrics,
the admin overview.
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
