"""A customer's SMS number (and the rest of their notification profile) keeps its whole
history: every change with the value before and after, who made it, where and when.
Operations read the numbers; support reads them masked; nobody rewrites the history."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from notifications import profiles
from notifications.models import CustomerProfile, CustomerProfileChange
from tests.factories import staff_member

pytestmark = pytest.mark.django_db

OLD, NEW = "+254700000100", "+254711112222"
HISTORY = "admin:notifications_customerprofilechange_changelist"


@pytest.fixture
def profile():
    return CustomerProfile.objects.create(customer_id="cust_demo", msisdn=OLD)


def edit_in_admin(client, profile, **changes):
    form = {"locale": profile.locale, "preferred_channel": profile.preferred_channel,
            "msisdn": profile.msisdn, **changes}
    return client.post(reverse("admin:notifications_customerprofile_change", args=[profile.pk]),
                       form)


def test_an_sms_number_edited_in_admin_is_recorded_with_before_after_who_and_when(client,
                                                                                 profile):
    client.force_login(staff_member("ops_brian", "operations"))
    response = edit_in_admin(client, profile, msisdn=NEW)
    assert response.status_code == 302
    assert CustomerProfile.objects.get(pk=profile.pk).msisdn == NEW
    change = CustomerProfileChange.objects.get(customer_id="cust_demo")
    assert (change.field, change.before, change.after) == ("msisdn", OLD, NEW)
    assert (change.changed_by, change.source) == ("ops_brian", "admin")
    assert change.changed_at is not None


def test_saving_a_profile_unchanged_records_nothing(client, profile):
    client.force_login(staff_member("ops_brian", "operations"))
    assert edit_in_admin(client, profile).status_code == 302
    assert not CustomerProfileChange.objects.exists()


def test_a_preference_set_from_the_app_is_recorded_as_the_customers(profile):
    profiles.update_preferences("cust_demo", locale="sw")
    change = CustomerProfileChange.objects.get()
    assert (change.field, change.before, change.after) == ("locale", "en", "sw")
    assert (change.changed_by, change.source) == ("cust_demo", "app")


def test_operations_read_the_numbers_and_support_reads_them_masked(client, profile):
    profiles.edit_customer_profile(
        CustomerProfile(pk=profile.pk, customer_id="cust_demo", msisdn=NEW),
        actor=staff_member("ops_brian", "operations"))
    client.force_login(staff_member("ops_amina", "operations"))
    page = client.get(reverse(HISTORY)).content.decode()
    assert OLD in page and NEW in page and "ops_brian" in page

    client.force_login(staff_member("support_wanjiru", "support"))
    response = client.get(reverse(HISTORY))
    assert response.status_code == 200
    page = response.content.decode()
    assert OLD not in page and NEW not in page
    assert "•" + OLD[-3:] in page and "•" + NEW[-3:] in page  # last digits, as elsewhere
    detail = client.get(reverse("admin:notifications_customerprofilechange_change",
                                args=[CustomerProfileChange.objects.get().pk]))
    assert detail.status_code == 200 and NEW not in detail.content.decode()


def test_support_cannot_filter_the_history_by_a_number(client, profile):
    profiles.edit_customer_profile(
        CustomerProfile(pk=profile.pk, customer_id="cust_demo", msisdn=NEW),
        actor=staff_member("ops_brian", "operations"))
    client.force_login(staff_member("support_wanjiru", "support"))
    assert client.get(reverse(HISTORY), {"after__startswith": "+25471"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_rewrite_the_history(profile):
    profiles.edit_customer_profile(
        CustomerProfile(pk=profile.pk, customer_id="cust_demo", msisdn=NEW),
        actor=staff_member("ops_brian", "operations"))
    for statement in (lambda: CustomerProfileChange.objects.update(after="+254799999999"),
                      lambda: CustomerProfileChange.objects.all().delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    assert CustomerProfileChange.objects.get().after == NEW
