from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Visa Direct transfers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import reconciliation_metrics  # noqa: F401  (its gauges and counter)
