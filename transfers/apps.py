from django.apps import AppConfig

# The admin badges' and state diagram's colour per state (names shared with provisioning
# keep provisioning's colours).
STATE_COLOURS = {
    "received": "#1f6feb",
    "in_review": "#bf8700",
    "checked": "#1f6feb",
    "funds_held": "#8250df",
    "submitted": "#8250df",
    "completed": "#1a7f37",
    "declined": "#cf222e",
    "rejected": "#cf222e",
    "cancelled": "#6e7781",
    "needs_attention": "#bf8700",
}
# The outside systems a transfer's path calls: /readyz reports whether each answers.
# Not settlement_reports: only the daily reconciliation reads it, and a late report
# must not make the API look degraded.
READINESS_SYSTEMS = ("attributes", "screening", "mpesa", "payouts", "transaction_search")


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Visa Direct transfers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from core import diagram, health

        from . import reconciliation_metrics  # noqa: F401  (its gauges and counter)
        from . import metrics, receivers  # noqa: F401  (outcome counters, gauges; signals)
        from .models import Transfer

        diagram.register("transfer.svg", Transfer, title="Transfer.state", colours=STATE_COLOURS)
        health.depend_on_outside_systems(*READINESS_SYSTEMS)
