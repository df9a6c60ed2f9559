"""The bench's root URLconf: the service's URLs plus the floor's (bench/settings.py only)."""

from django.urls import include, path

from config.urls import handler400, handler404, handler500, urlpatterns as service_urlpatterns

urlpatterns = [
    path("bench/floor/", include("bench.floor_app.urls")),
    *service_urlpatterns,
]

__all__ = ["urlpatterns", "handler400", "handler404", "handler500"]
