"""Top-level URLs with one listener (dev and test): the public site and the internal one.

Production splits them across two listeners (config/listeners.py, ADR 0006):
config/urls_public.py is its ROOT_URLCONF, config/urls_internal.py the internal port's.
"""

from config import urls_internal, urls_public

urlpatterns = [*urls_public.urlpatterns, *urls_internal.internal_only]

handler400 = "config.health.bad_request"
handler404 = "config.health.not_found"
handler500 = "config.health.server_error"
