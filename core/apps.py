from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.models.signals import post_migrate

        # transitions: one TransitionLog row per transition.
        from . import partitions, schedules, transitions  # noqa: F401
        from .observability import metrics

        # Transition and task counters; every app's database gauges on /metrics.
        metrics.register_default_collectors()
        # The log's monthly partitions (core/partitions.py); its gauges cover every table.
        partitions.register(partitions.PartitionedTable(
            table="core_transitionlog", retention_setting="TRANSITION_LOG_RETENTION_MONTHS"))
        metrics.register_database_gauges(partitions.GAUGES)
        # Once per migrate (sender: this app), after every app's tables exist.
        post_migrate.connect(schedules.sync_after_migrate, sender=self,
                             dispatch_uid="core.schedules.sync_after_migrate")
        post_migrate.connect(_sync_admin_groups, sender=self,
                             dispatch_uid="core.security.sync_admin_groups")


def _sync_admin_groups(sender, **kwargs) -> None:
    """The support and operations groups, as core/security.py declares them, after every
    migrate (it creates every app's permissions first)."""
    from django.apps import apps

    from .security import sync_admin_groups

    sync_admin_groups(apps)
