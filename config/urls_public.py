"""The public listener's site: wallet-app API v1, token-service webhook, admin, health.

Production's ROOT_URLCONF; metrics and the API docs are on the internal listener
(config/urls_internal.py, core/listeners.py)."""

from django.contrib import admin
from django.urls import include, path

from core import health
from tokens.webhooks import token_service_webhook

api_v1 = [
    path("", include("provisioning.api.urls")),
    path("", include("tokens.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("transfers.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("webhooks/token-service", token_service_webhook, name="token-service-webhook"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]

handler400 = "core.health.bad_request"
handler404 = "core.health.not_found"
handler500 = "core.health.server_error"
