from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        # Which state changes notify whom is for the apps above to say: they connect
        # their own receivers and call services.queue_event_notification.
        from . import metrics  # noqa: F401  (outbox gauges)
