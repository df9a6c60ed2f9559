"""Admin: the outbox list, the permission-gated resend, and no secret on any page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from notifications.models import Notification, Status
from tests.notifications.conftest import NotificationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notifications_notification_changelist"


def _staff(*perms: str) -> User:
    user = User.objects.create_user("ops", password="correct horse battery", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_the_list_shows_status_channel_attempts_and_error(client):
    client.force_login(_staff("view_notification"))
    NotificationFactory(status=Status.FAILED, attempts=10, last_error="gateway_unavailable")
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    page = response.content.decode()
    assert "gateway_unavailable" in page and "SMS" in page


def test_the_list_can_be_searched_by_customer(client):
    client.force_login(_staff("view_notification"))
    NotificationFactory(customer_id="cust_alpha")
    NotificationFactory(customer_id="cust_beta")
    response = client.get(reverse(CHANGELIST), {"q": "cust_alpha"})
    assert response.context["cl"].result_count == 1


def test_operations_with_the_permission_resend_a_failed_notification(client):
    client.force_login(_staff("view_notification", "resend_notification"))
    failed = NotificationFactory(status=Status.FAILED, last_error="sms_invalid_msisdn")
    response = client.post(reverse(CHANGELIST), {"action": "resend",
                                                 "_selected_action": [str(failed.pk)]})
    assert response.status_code == 302
    assert Notification.objects.get(pk=failed.pk).status == Status.PENDING


def test_staff_without_the_permission_have_no_resend_action(client):
    client.force_login(_staff("view_notification"))
    failed = NotificationFactory(status=Status.FAILED)
    response = client.get(reverse(CHANGELIST))
    model_admin = response.context["cl"].model_admin
    assert "resend" not in model_admin.get_actions(response.wsgi_request)
    client.post(reverse(CHANGELIST), {"action": "resend", "_selected_action": [str(failed.pk)]})
    assert Notification.objects.get(pk=failed.pk).status == Status.FAILED


def test_the_detail_page_never_shows_the_sealed_code(client):
    client.force_login(_staff("view_notification"))
    notification = NotificationFactory(template_key="step_up_code")
    notification.secret_context = {"code": "482913"}
    notification.save()
    sealed = Notification.objects.filter(pk=notification.pk).values_list(
        "secret_context", flat=True).get()
    response = client.get(reverse("admin:notifications_notification_change",
                                  args=[notification.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert sealed not in page and "482913" not in page
    assert "+254700000100" not in page  # the number is masked too


def test_support_sees_a_customers_number_and_push_token_masked(client):
    from notifications.models import CustomerProfile, Device

    client.force_login(_staff("view_customerprofile", "view_device"))
    profile = CustomerProfile.objects.create(customer_id="cust_demo", msisdn="+254700000100")
    Device.objects.create(customer_id="cust_demo", device_id="pixel-8",
                          push_token="fcm-secret-token-123456", platform="android")
    profile_page = client.get(reverse("admin:notifications_customerprofile_change",
                                      args=[profile.pk])).content.decode()
    devices_page = client.get(reverse("admin:notifications_device_changelist")).content.decode()
    assert "+254700000100" not in profile_page and "100" in profile_page
    assert "fcm-secret-token-123456" not in devices_page and "123456" in devices_page
