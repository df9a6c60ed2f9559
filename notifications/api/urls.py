from django.urls import path

from . import views

urlpatterns = [
    path("devices", views.DeviceRegisterView.as_view(), name="device-register"),
    path("me/preferences", views.PreferencesView.as_view(), name="notification-preferences"),
]
