from django.urls import path

from . import views

urlpatterns = [
    path("rows", views.FloorCreateView.as_view(), name="bench-floor-create"),
    path("rows/<uuid:row_id>", views.FloorReadView.as_view(), name="bench-floor-read"),
]
