from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self):
        from . import receivers  # noqa: F401  (step-ups whose code cannot be delivered)
        from . import transition_log  # noqa: F401  (connects the post_transition receiver)
        from config import metrics

        # Transition, task and notification counters; database gauges on /metrics.
        metrics.register_default_collectors()
