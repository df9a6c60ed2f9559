"""The Celery app: settings from Django (CELERY_*), tasks discovered in every app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("push_provisioning")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Propagates the correlation id from whoever enqueued a task into the task's logs.
import config.correlation  # noqa: E402,F401  (connects Celery signals)
# The worker's /metrics server (must come before anything imports prometheus_client).
import config.worker_metrics  # noqa: E402,F401  (connects Celery worker signals)
