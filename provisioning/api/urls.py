from django.urls import path

from . import views

urlpatterns = [
    path("provisioning-requests", views.ProvisioningRequestListCreateView.as_view(),
         name="provisioning-request-list"),
    path("provisioning-requests/<str:request_id>", views.ProvisioningRequestDetailView.as_view(),
         name="provisioning-request-detail"),
    path("provisioning-requests/<str:request_id>/cancel",
         views.ProvisioningRequestCancelView.as_view(), name="provisioning-request-cancel"),
    path("provisioning-requests/<str:request_id>/verify",
         views.ProvisioningRequestVerifyView.as_view(), name="provisioning-request-verify"),
    path("provisioning-requests/<str:request_id>/resend-otp",
         views.ProvisioningRequestResendOtpView.as_view(), name="provisioning-request-resend-otp"),
]
