"""Rate limits per customer (JWT subject) and per client IP; 429 carries Retry-After."""

from rest_framework.throttling import SimpleRateThrottle


class CustomerRateThrottle(SimpleRateThrottle):
    scope = "customer"

    def get_cache_key(self, request, view):
        customer = getattr(request, "user", None)
        customer_id = getattr(customer, "customer_id", None)
        if not customer_id:
            return None
        return self.cache_format % {"scope": self.scope, "ident": customer_id}


class ClientIpRateThrottle(SimpleRateThrottle):
    scope = "client_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
