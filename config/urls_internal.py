"""The internal listener's site (core/listeners.py): metrics, the API schema and its docs
page, and the health checks. Never reachable through the public listener in production."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import health
from core.observability.metrics import metrics_view

# Served by the internal listener only (and, with one listener in dev and test, by it).
internal_only = [
    path("metrics", metrics_view, name="metrics"),  # all gunicorn workers (config/gunicorn.py)
    # The schema describes the public site, whichever listener serves it.
    path("api/schema/", SpectacularAPIView.as_view(urlconf="config.urls_public"), name="schema"),
    # The docs page fetches the schema by a relative URL: no reverse() through the request,
    # which would validate the (pod address) Host against ALLOWED_HOSTS.
    path("api/docs/", SpectacularSwaggerView.as_view(url="../schema/"), name="api-docs"),
]

urlpatterns = [
    *internal_only,
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler400 = "core.health.bad_request"
handler404 = "core.health.not_found"
handler500 = "core.health.server_error"
