"""Admin lists filter only by what the page offers (its list filters, its date hierarchy,
its search box): a URL lookup the page does not offer is refused with 400, so nobody can
read a masked phone number or push token by guessing it prefix by prefix."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from notifications.models import CustomerProfile, Device
from core.models import Trigger
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tests.notifications.conftest import NotificationFactory

pytestmark = pytest.mark.django_db

MSISDN = "+254712340100"
PUSH_TOKEN = "fcm-secret-token-123456"


@pytest.fixture(params=["support", "operations"])
def staff_client(request, client):
    """Logged in as a member of the group the migration creates (each test runs as both)."""
    user = User.objects.create_user(f"{request.param}-probe", password="x" * 14, is_staff=True)
    user.groups.add(Group.objects.get(name=request.param))
    client.force_login(user)
    return client


@pytest.fixture
def masked_rows():
    """One row per admin holding a value it shows masked (or not at all)."""
    request = ProvisioningRequestFactory(state=State.RECEIVED, card_last4="")
    request.mark_eligible(by=Trigger.WORKER, card_last4="0044", card_product="visa_classic",
                          customer_msisdn=MSISDN)
    request.save()
    TokenFactory(provisioning_request=ProvisioningRequestFactory(
        state=State.PROVISIONED, due_at=None, customer_msisdn=MSISDN), token_ref="tkn_secret1")
    NotificationFactory(msisdn=MSISDN)
    Device.objects.create(customer_id="cust_demo", device_id="pixel-8", push_token=PUSH_TOKEN,
                          platform="android")
    CustomerProfile.objects.create(customer_id="cust_demo", msisdn=MSISDN)


REFUSED = [
    ("provisioning_provisioningrequest", "customer_msisdn__startswith", "+2547"),
    ("provisioning_provisioningrequest", "customer_msisdn__contains", "0100"),
    ("provisioning_provisioningrequest", "customer_msisdn__regex", r"^\+2547123"),
    ("provisioning_provisioningrequest", "customer_msisdn", MSISDN),
    ("provisioning_provisioningrequest", "pan_fingerprint__startswith", "a"),
    ("provisioning_provisioningrequest", "token__token_ref__startswith", "tkn_"),
    ("tokens_token", "provisioning_request__customer_msisdn__startswith", "+2547"),
    ("tokens_token", "token_ref__startswith", "tkn_"),
    ("notifications_notification", "msisdn__startswith", "+2547"),
    ("notifications_notification", "msisdn__iexact", MSISDN),
    ("notifications_device", "push_token__startswith", "fcm-"),
    ("notifications_device", "push_token__regex", "^fcm-secret"),
    ("notifications_customerprofile", "msisdn__startswith", "+2547"),
    ("notifications_customerprofile", "msisdn", MSISDN),
    ("decisioning_ruleresult", "inputs__last_swap_hours__lt", "2"),
    ("core_transitionlog", "reason__startswith", "issuer"),
]


@pytest.mark.parametrize("admin_name,lookup,value", REFUSED,
                         ids=[f"{name}?{lookup}" for name, lookup, _ in REFUSED])
def test_a_lookup_the_page_does_not_offer_is_refused(staff_client, masked_rows, admin_name,
                                                     lookup, value):
    response = staff_client.get(reverse(f"admin:{admin_name}_changelist"), {lookup: value})
    assert response.status_code == 400
    assert MSISDN not in response.content.decode()


@pytest.mark.parametrize("admin_name,params", [
    ("provisioning_provisioningrequest", {"state__exact": "eligible"}),
    ("provisioning_provisioningrequest", {"stuck": "no"}),
    ("provisioning_provisioningrequest", {"created_at__year": str(timezone.now().year)}),
    ("tokens_token", {"state__exact": "active", "wallet": "google_pay"}),
    ("notifications_notification", {"status__exact": "pending", "channel__exact": "sms"}),
    ("notifications_device", {"platform__exact": "android"}),
    ("notifications_customerprofile", {"locale__exact": "en"}),
    ("decisioning_decisionrule", {"mode__exact": "enforce", "enabled__exact": "1"}),
])
def test_a_filter_the_page_offers_still_narrows_the_list(staff_client, masked_rows, admin_name,
                                                         params):
    response = staff_client.get(reverse(f"admin:{admin_name}_changelist"), params)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_the_offered_state_filter_narrows_and_the_date_hierarchy_still_works(staff_client):
    eligible = ProvisioningRequestFactory(state=State.ELIGIBLE)
    received = ProvisioningRequestFactory(state=State.RECEIVED)
    url = reverse("admin:provisioning_provisioningrequest_changelist")
    page = staff_client.get(url, {"state__exact": "eligible",
                                  "created_at__year": str(eligible.created_at.year),
                                  "created_at__month": str(eligible.created_at.month)})
    assert page.status_code == 200
    assert str(eligible.pk) in page.content.decode()
    assert str(received.pk) not in page.content.decode()


def test_search_still_finds_by_its_exact_fields(staff_client):
    wanted = ProvisioningRequestFactory(customer_id="cust_wanjiru")
    response = staff_client.get(reverse("admin:provisioning_provisioningrequest_changelist"),
                                {"q": "cust_wanjiru"})
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [wanted.pk]


def test_every_service_admin_derives_from_the_base_that_refuses_lookups():
    from core.security import SERVICE_APPS
    from core.admin_site import ServiceModelAdmin

    service_admins = {model._meta.label: model_admin
                      for model, model_admin in admin.site._registry.items()
                      if model._meta.app_label in SERVICE_APPS}
    assert {"provisioning.ProvisioningRequest", "tokens.Token", "notifications.Device",
            "notifications.CustomerProfile", "decisioning.DecisionRule"} <= set(service_admins)
    assert [label for label, model_admin in service_admins.items()
            if not isinstance(model_admin, ServiceModelAdmin)] == []


def test_every_service_admin_searches_by_exact_match_only():
    """A `contains` or `startswith` search would be the same prefix oracle as a filter."""
    from core.security import SERVICE_APPS

    loose = [(model._meta.label, field)
             for model, model_admin in admin.site._registry.items()
             if model._meta.app_label in SERVICE_APPS
             for field in model_admin.search_fields if not field.startswith("=")]
    assert loose == []


def test_the_admin_site_check_flags_a_service_admin_without_the_base_or_with_loose_search():
    from core.admin_site import ServiceAdminSite, ServiceModelAdmin

    class LooseSearch(ServiceModelAdmin):
        search_fields = ["=customer_id", "push_token"]

    site = ServiceAdminSite(name="probe")
    site.register(Device, admin.ModelAdmin)
    site.register(CustomerProfile, LooseSearch)
    assert sorted(error.id for error in site.check(None)) == [
        "core.E001", "core.E002"]
    assert admin.site.check(None) == []
