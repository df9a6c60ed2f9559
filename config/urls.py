"""Top-level URLs with one listener (dev and test): the public site and the internal one.

Production splits them across two listeners (core/listeners.py, ADR 0006):
config/urls_public.py is its ROOT_URLCONF, config/urls_internal.py the internal port's.
"""

from config import urls_internal, urls_public

urlpatterns = [*urls_public.urlpatterns, *urls_internal.internal_only]

handler400 = "core.health.bad_request"
handler404 = "core.health.not_found"
handler500 = "core.health.server_error"
