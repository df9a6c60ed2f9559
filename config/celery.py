"""The Celery app: settings from Django (CELERY_*), tasks discovered in every app."""

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

from core.entrypoints import require_settings_module

app = Celery("push_provisioning")


@app.on_configure.connect
def _require_settings_module(sender, **kwargs):
    # When the app first reads its configuration (a worker or beat starting, a task sent),
    # not at import: the sandbox imports core.dev_keys, and with it this package,
    # without Django. SystemExit rather than the error: Celery's signals log and swallow
    # exceptions, and the process would go on to fail somewhere less clear.
    try:
        require_settings_module("the Celery app")
    except ImproperlyConfigured as missing:
        raise SystemExit(str(missing)) from None


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Propagates the correlation id from whoever enqueued a task into the task's logs.
import core.observability.correlation  # noqa: E402,F401  (connects Celery signals)
# The worker's /metrics server (must come before anything imports prometheus_client).
import core.observability.worker_metrics  # noqa: E402,F401  (connects Celery worker signals)
