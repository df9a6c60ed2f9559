"""A careless app cannot put a card number at rest through a free-form id: every string the
API stores (card, device and wallet-account ids, Apple's data, the Idempotency-Key header,
push tokens) refuses a Luhn-valid 13-19 digit number with a coded 400 that names the field
and never echoes the value. An error message never echoes a card number either."""

from __future__ import annotations

import base64
import inspect
import json
import re
import uuid

import pytest
from rest_framework import serializers

from core.validators import refuse_card_number
from notifications.models import Device
from core.models import TransitionLog
from provisioning.models import IdempotencyKey, ProvisioningRequest

pytestmark = pytest.mark.django_db

URL = "/api/v1/provisioning-requests"
DEVICES = "/api/v1/devices"
PAN = "4111111111111111"
WRITTEN = {
    "plain": PAN,
    "dashed": "4111-1111-1111-1111",
    "spaced": "4111 1111 1111 1111",
    "dotted": "4111.1111.1111.1111",
    "underscored": "4111_1111_1111_1111",
    "prefixed": f"card_{PAN}",
    "amex": "378282246310005",
    "full-width": "４１１１１１１１１１１１１１１１",
}
APPLE = {"certificates": [base64.b64encode(b"cert").decode()],
         "nonce": base64.b64encode(b"n" * 16).decode(),
         "nonce_signature": base64.b64encode(b"s" * 64).decode()}


def create_body(**overrides) -> dict:
    body = {"card_id": "card_green", "wallet": "google_pay",
            "device": {"id": "device-1", "type": "phone", "os": "android-15"}}
    body.update(overrides)
    return body


def _with(path: str, value, base: dict) -> dict:
    body = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    target[last] = value
    return body


def _digits_in(response) -> str:
    text = response.content.decode()
    return re.sub(r"\D", "", "".join(str(int(c)) if c.isdecimal() else c for c in text))


CREATE_FIELDS = {
    "card_id": create_body(),
    "device.id": create_body(),
    "device.os": create_body(),
    "wallet_account_id": create_body(wallet_account_id="acct-1"),
    "apple.nonce": create_body(wallet="apple_pay", apple=APPLE),
}


@pytest.mark.parametrize("written", list(WRITTEN))
@pytest.mark.parametrize("field", list(CREATE_FIELDS))
def test_a_card_number_in_a_free_form_field_is_a_coded_400_that_stores_nothing(
        api_client, field, written):
    value = WRITTEN[written]
    response = api_client.post(URL, _with(field, value, CREATE_FIELDS[field]), format="json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "pan_not_allowed"
    fields = error["details"]["fields"]
    for name in field.split("."):
        fields = fields[name]
    assert fields == ["A card number is not allowed here."]
    assert value not in response.content.decode()
    assert PAN not in _digits_in(response) and "378282246310005" not in _digits_in(response)
    assert not ProvisioningRequest.objects.exists() and not IdempotencyKey.objects.exists()


def test_a_card_number_among_apples_certificates_is_refused(api_client):
    apple = {**APPLE, "certificates": [APPLE["certificates"][0], PAN]}
    response = api_client.post(URL, create_body(wallet="apple_pay", apple=apple), format="json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "pan_not_allowed"
    assert "certificates" in response.json()["error"]["details"]["fields"]["apple"]
    assert not ProvisioningRequest.objects.exists()


@pytest.mark.parametrize("written", list(WRITTEN))
def test_a_card_number_as_the_idempotency_key_is_a_coded_400_that_stores_nothing(api_client,
                                                                                   written):
    response = api_client.post(URL, create_body(), format="json",
                               HTTP_IDEMPOTENCY_KEY=WRITTEN[written])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "pan_not_allowed"
    assert error["details"] == {"header": "Idempotency-Key"}
    assert PAN not in _digits_in(response) and "378282246310005" not in _digits_in(response)
    assert not ProvisioningRequest.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("written", list(WRITTEN))
@pytest.mark.parametrize("field", ["device_id", "push_token"])
def test_a_card_number_in_a_device_registration_is_a_coded_400_that_stores_nothing(
        api_client, field, written):
    body = {"device_id": "pixel-8", "push_token": "fcm-token-1", "platform": "android",
            field: WRITTEN[written]}
    response = api_client.post(DEVICES, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "pan_not_allowed"
    assert error["details"]["fields"] == {field: ["A card number is not allowed here."]}
    assert PAN not in _digits_in(response) and "378282246310005" not in _digits_in(response)
    assert not Device.objects.exists()


@pytest.mark.parametrize("value", [
    "card_green", str(uuid.uuid4()), "device-1", "4111111111111112", "411111111111",
    "pixel-8:android-15", "12345678-1234-4234-8234-123456789012",
])
def test_ordinary_ids_are_accepted(api_client, value):
    safe_id = re.sub(r"[^A-Za-z0-9_.:-]", "", value)
    response = api_client.post(URL, create_body(card_id=safe_id,
                                                device={"id": safe_id, "type": "phone",
                                                        "os": "android-15"},
                                                wallet_account_id=safe_id),
                               format="json", HTTP_IDEMPOTENCY_KEY=value)
    assert response.status_code == 202, response.content


def test_an_apns_token_whose_hex_holds_a_luhn_valid_run_is_accepted(api_client):
    # 64 hex characters; 13 digits between letters pass Luhn (a hex token, not a number).
    token = "ab" + "4000000000002" + "c" * 49
    assert len(token) == 64
    response = api_client.post(DEVICES, {"device_id": "iphone-15", "push_token": token,
                                         "platform": "ios"}, format="json")
    assert response.status_code == 201, response.content
    assert Device.objects.get().push_token == token


def test_a_card_number_as_the_correlation_id_is_replaced_not_stored(api_client):
    response = api_client.post(URL, create_body(), format="json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
                               HTTP_X_CORRELATION_ID=PAN)
    assert response.status_code == 202
    assert response["X-Correlation-Id"] != PAN
    assert PAN not in response["X-Correlation-Id"]
    assert not TransitionLog.objects.filter(correlation_id__contains=PAN).exists()


# --- error messages never echo a card number ---------------------------------------------

def test_a_card_number_in_a_choice_field_is_not_echoed(api_client):
    response = api_client.post(URL, create_body(wallet=PAN), format="json",
                               HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 400
    assert "wallet" in response.json()["error"]["details"]["fields"]
    assert PAN not in response.content.decode()


def test_a_card_number_in_a_list_filter_is_not_echoed(api_client):
    response = api_client.get(URL, {"state": PAN})
    assert response.status_code == 400
    assert PAN not in response.content.decode()


# --- every free-form string of every input serializer is checked --------------------------

_EXEMPT = {
    ("VerifyOtpSerializer", "otp"),  # exactly six digits: too short to hold a card number
}


def _input_serializers():
    import notifications.api.serializers
    import provisioning.api.serializers
    import tokens.api.serializers

    for module in (provisioning.api.serializers, notifications.api.serializers,
                   tokens.api.serializers):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, serializers.Serializer) and cls.__module__ == module.__name__
                    and not issubclass(cls, serializers.ModelSerializer)):
                yield cls


def _string_fields(serializer, prefix=""):
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListField):
            field = field.child
        if isinstance(field, serializers.Serializer):
            yield from _string_fields(field, f"{prefix}{name}.")
        elif isinstance(field, serializers.CharField):
            yield f"{prefix}{name}", field


def test_every_free_form_string_of_every_input_serializer_refuses_card_numbers():
    checked = []
    for cls in _input_serializers():
        for name, field in _string_fields(cls()):
            if (cls.__name__, name) in _EXEMPT:
                continue
            assert refuse_card_number in field.validators, f"{cls.__name__}.{name}"
            checked.append(f"{cls.__name__}.{name}")
    assert {"CreateProvisioningRequestSerializer.card_id",
            "CreateProvisioningRequestSerializer.device.id",
            "CreateProvisioningRequestSerializer.wallet_account_id",
            "RegisterDeviceSerializer.push_token"} <= set(checked)
