from django.apps import AppConfig

# The admin badges' and state diagram's colour per state.
STATE_COLOURS = {
    "inactive": "#bf8700",
    "active": "#1a7f37",
    "suspended": "#bf8700",
    "deleted": "#6e7781",
}


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens"

    def ready(self):
        from core import diagram

        from . import metrics  # noqa: F401  (circuit and webhook gauges)
        from .models import Token

        diagram.register("token.svg", Token, title="Token.state", colours=STATE_COLOURS)
