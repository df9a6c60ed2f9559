from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from . import metrics, receivers  # noqa: F401  (outbox gauges; post_transition)
