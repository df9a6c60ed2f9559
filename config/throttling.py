"""Rate limits per customer (JWT subject) and per client IP; 429 carries Retry-After.

The client IP is the one config.security.client_ip resolves (X-Forwarded-For trusted only
as far as TRUSTED_PROXY_COUNT), so a caller cannot reset its own limit by inventing
forwarded addresses. Rates are read from settings on each request (DRF binds them at
import), so a changed setting takes effect without a restart of the class.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.security import client_ip


class _RateFromSettings(SimpleRateThrottle):
    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}") from None


class CustomerRateThrottle(_RateFromSettings):
    scope = "customer"

    def get_cache_key(self, request, view):
        customer = getattr(request, "user", None)
        customer_id = getattr(customer, "customer_id", None)
        if not customer_id:
            return None
        return self.cache_format % {"scope": self.scope, "ident": customer_id}


class ClientIpRateThrottle(_RateFromSettings):
    scope = "client_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
