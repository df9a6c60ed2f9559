from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Visa Direct transfers"
    default_auto_field = "django.db.models.BigAutoField"
