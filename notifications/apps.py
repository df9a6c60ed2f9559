from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        # Which state changes notify whom is for the apps above to say: they connect
        # their own receivers and call services.queue_event_notification.
        from core import partitions

        from . import metrics  # noqa: F401  (outbox gauges)

        # The outbox's monthly partitions (docs/adr/0014-partitioned-log-and-outbox.md):
        # a month holding an unsent row stays; a dropped month's de-duplication keys go.
        partitions.register(partitions.PartitionedTable(
            table="notifications_notification",
            retention_setting="NOTIFICATION_RETENTION_MONTHS",
            keep_rows_where="status IN ('pending', 'sending')",
            changed_column="updated_at",
            before_drop=("DELETE FROM notifications_notification_key k USING {partition} p "
                         "WHERE k.object_id = p.object_id AND k.event = p.event",),
        ))
