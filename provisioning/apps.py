from django.apps import AppConfig

# The admin badges' and state diagram's colour per state.
STATE_COLOURS = {
    "received": "#1f6feb",
    "eligible": "#1f6feb",
    "token_requested": "#8250df",
    "step_up_required": "#bf8700",
    "provisioned": "#1a7f37",
    "ineligible": "#6e7781",
    "declined": "#cf222e",
    "failed": "#cf222e",
    "expired": "#6e7781",
    "cancelled": "#6e7781",
}
# The outside systems a push calls on its way: /readyz reports whether each answers. Not
# telco: its SIM-swap lookup has a fallback (the rule's `sim_swap_unknown`), so an outage
# changes decisions, not whether a push can be served; its alerts watch it.
READINESS_SYSTEMS = ("issuer", "token_service")


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self):
        from core import diagram, health
        from tokens import webhooks

        from . import metrics, receivers  # noqa: F401  (failure counter, gauges; signals)
        from .models import ProvisioningRequest

        # The token service's decisions, arriving by webhook at tokens, move requests.
        webhooks.register_decision_handler(receivers.apply_webhook_decision)

        diagram.register("provisioning_request.svg", ProvisioningRequest,
                         title="ProvisioningRequest.state", colours=STATE_COLOURS)
        health.depend_on_outside_systems(*READINESS_SYSTEMS)
