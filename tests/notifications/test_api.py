"""POST /api/v1/devices and GET/PATCH /api/v1/me/preferences."""

from __future__ import annotations

import pytest

from notifications.models import CustomerProfile, Device

pytestmark = pytest.mark.django_db

DEVICES = "/api/v1/devices"
PREFERENCES = "/api/v1/me/preferences"
PIXEL = {"device_id": "pixel-8", "push_token": "fcm-token-1", "platform": "android"}


def test_registering_a_new_device_is_201_and_keeps_its_push_token(api_client):
    response = api_client.post(DEVICES, PIXEL, format="json")
    assert response.status_code == 201
    assert response.json()["device_id"] == "pixel-8"
    assert "push_token" not in response.json()
    assert Device.objects.get(customer_id="cust_demo", device_id="pixel-8").push_token == \
        "fcm-token-1"


def test_registering_the_same_device_again_updates_its_token_with_200(api_client):
    api_client.post(DEVICES, PIXEL, format="json")
    response = api_client.post(DEVICES, {**PIXEL, "push_token": "fcm-token-2"}, format="json")
    assert response.status_code == 200
    assert list(Device.objects.values_list("push_token", flat=True)) == ["fcm-token-2"]


def test_a_push_token_registered_by_another_customer_stops_reaching_the_first(api_client,
                                                                              other_client):
    api_client.post(DEVICES, PIXEL, format="json")
    other_client.post(DEVICES, {**PIXEL, "device_id": "shared-phone"}, format="json")
    assert list(Device.objects.values_list("customer_id", flat=True)) == ["cust_other"]


@pytest.mark.parametrize("body,field", [
    ({**PIXEL, "platform": "windows"}, "platform"),
    ({**PIXEL, "device_id": "bad id!"}, "device_id"),
    ({**PIXEL, "push_token": ""}, "push_token"),
    ({"device_id": "pixel-8", "platform": "ios"}, "push_token"),
    ({**PIXEL, "customer_id": "cust_other"}, "customer_id"),
])
def test_an_invalid_device_is_400_in_the_error_shape(api_client, body, field):
    response = api_client.post(DEVICES, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"]
    assert not Device.objects.exists()


def test_devices_need_a_bearer_token(anon_client):
    response = anon_client.post(DEVICES, PIXEL, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_preferences_default_to_english_by_push(api_client):
    response = api_client.get(PREFERENCES)
    assert response.status_code == 200
    assert response.json() == {"locale": "en", "preferred_channel": "push"}
    assert not CustomerProfile.objects.exists()


def test_a_customer_sets_swahili_and_sms(api_client):
    response = api_client.patch(PREFERENCES, {"locale": "sw", "preferred_channel": "sms"},
                                format="json")
    assert response.status_code == 200
    assert response.json() == {"locale": "sw", "preferred_channel": "sms"}
    profile = CustomerProfile.objects.get(customer_id="cust_demo")
    assert (profile.locale, profile.preferred_channel) == ("sw", "sms")


def test_a_partial_update_keeps_the_other_preference(api_client):
    api_client.patch(PREFERENCES, {"preferred_channel": "sms"}, format="json")
    response = api_client.patch(PREFERENCES, {"locale": "sw"}, format="json")
    assert response.json() == {"locale": "sw", "preferred_channel": "sms"}


def test_preferences_are_per_customer(api_client, other_client):
    api_client.patch(PREFERENCES, {"locale": "sw"}, format="json")
    assert other_client.get(PREFERENCES).json()["locale"] == "en"


@pytest.mark.parametrize("body,field", [
    ({"locale": "fr"}, "locale"),
    ({"preferred_channel": "email"}, "preferred_channel"),
    ({"msisdn": "+254700000999"}, "msisdn"),
])
def test_an_unknown_language_channel_or_field_is_400(api_client, body, field):
    response = api_client.patch(PREFERENCES, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/devices"]
    assert {"get", "patch"} <= set(schema["paths"]["/api/v1/me/preferences"])
