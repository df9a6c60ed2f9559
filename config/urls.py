"""Top-level URLs: wallet-app API v1, token-service webhook, admin, health, metrics, docs."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health
from config.metrics import metrics_view
from tokens.webhooks import token_service_webhook

api_v1 = [
    path("", include("provisioning.api.urls")),
    path("", include("tokens.api.urls")),
    path("", include("notifications.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("webhooks/token-service", token_service_webhook, name="token-service-webhook"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),  # all gunicorn workers (config/gunicorn.py)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "config.health.bad_request"
handler404 = "config.health.not_found"
handler500 = "config.health.server_error"
