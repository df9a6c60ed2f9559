"""Encryption at rest through EncryptedJSONField: the column holds only ciphertext bound to
its row and field, and every way a ciphertext can be wrong fails loudly, naming the key."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from django.core import checks
from django.db import connection, transaction

from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from core.crypto import vault
from core.crypto.fields import EncryptedJSONField, SealedValue

PAYLOAD = {"opaque_payment_card": "b3BhcXVlLXBheWxvYWQ=", "pan_hint": "4111111111111111"}


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _raw_column(pk) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_payload FROM provisioning_provisioningrequest WHERE id = %s",
                       [pk])
        return cursor.fetchone()[0]


def _set_raw_column(pk, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE provisioning_provisioningrequest SET wallet_payload = %s "
                       "WHERE id = %s", [value, pk])


def _flip_one_byte(sealed: str) -> str:
    version, key_id, blob = sealed.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    raw[-1] ^= 0x01
    return f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


@pytest.fixture
def two_keys(settings):
    settings.ENCRYPTION_KEYS = {"k-old": _key(), "k-new": _key()}
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-old"
    return settings


@pytest.mark.django_db
def test_payload_round_trips_and_the_column_holds_only_ciphertext_naming_the_key():
    request = ProvisioningRequestFactory(state=State.PROVISIONED, wallet_payload=PAYLOAD)
    raw = _raw_column(request.pk)
    assert raw.startswith(f"v1.{vault.active_key_id()}.")
    assert "4111111111111111" not in raw and "b3BhcXVl" not in raw
    assert ProvisioningRequest.objects.get(pk=request.pk).wallet_payload == PAYLOAD


@pytest.mark.django_db
def test_sealing_twice_gives_different_ciphertexts():
    first = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    second = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    assert _raw_column(first.pk) != _raw_column(second.pk)


@pytest.mark.django_db
def test_no_payload_is_stored_as_null():
    request = ProvisioningRequestFactory()
    assert _raw_column(request.pk) is None
    assert ProvisioningRequest.objects.get(pk=request.pk).wallet_payload is None


@pytest.mark.django_db
def test_erasing_the_payload_leaves_null():
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    ProvisioningRequest.objects.filter(pk=request.pk).update(wallet_payload=None)
    assert _raw_column(request.pk) is None


@pytest.mark.django_db
def test_a_loaded_row_saved_without_touching_the_payload_keeps_its_ciphertext():
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    before = _raw_column(request.pk)
    loaded = ProvisioningRequest.objects.get(pk=request.pk)
    loaded.device_os = "android-16"
    loaded.save()
    assert _raw_column(request.pk) == before


@pytest.mark.django_db
def test_values_queries_see_ciphertext_only():
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    value = ProvisioningRequest.objects.values_list("wallet_payload", flat=True).get(pk=request.pk)
    assert isinstance(value, SealedValue) and "b3BhcXVl" not in value


@pytest.mark.django_db
def test_tampered_ciphertext_fails_loudly_naming_the_key_and_row():
    request = ProvisioningRequestFactory(state=State.PROVISIONED, wallet_payload=PAYLOAD)
    _set_raw_column(request.pk, _flip_one_byte(_raw_column(request.pk)))
    loaded = ProvisioningRequest.objects.get(pk=request.pk)
    with pytest.raises(vault.CiphertextInvalid) as caught:
        loaded.wallet_payload
    assert caught.value.key_id == vault.active_key_id()
    assert repr(vault.active_key_id()) in str(caught.value)
    assert str(request.pk) in str(caught.value)


@pytest.mark.django_db
def test_ciphertext_copied_to_another_row_does_not_open():
    source = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    target = ProvisioningRequestFactory(wallet_payload={"opaque_payment_card": "b3RoZXI="})
    _set_raw_column(target.pk, _raw_column(source.pk))
    with pytest.raises(vault.CiphertextInvalid, match="another row or field"):
        ProvisioningRequest.objects.get(pk=target.pk).wallet_payload


@pytest.mark.django_db
def test_ciphertext_copied_to_another_field_does_not_open():
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    other_field = EncryptedJSONField()
    other_field.set_attributes_from_name("activation_secret")
    other_field.model = ProvisioningRequest
    with pytest.raises(vault.CiphertextInvalid, match="activation_secret"):
        other_field.open(request, _raw_column(request.pk))


@pytest.mark.django_db
def test_ciphertext_under_a_key_missing_from_the_ring_names_the_key(two_keys):
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    two_keys.ENCRYPTION_KEYS = {"k-new": two_keys.ENCRYPTION_KEYS["k-new"]}
    two_keys.ENCRYPTION_ACTIVE_KEY_ID = "k-new"
    with pytest.raises(vault.UnknownKeyId) as caught:
        ProvisioningRequest.objects.get(pk=request.pk).wallet_payload
    assert caught.value.key_id == "k-old"
    assert "'k-old' is not in ENCRYPTION_KEYS" in str(caught.value)


@pytest.mark.django_db
def test_ciphertext_relabelled_with_another_key_id_does_not_open(two_keys):
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    relabelled = _raw_column(request.pk).replace("v1.k-old.", "v1.k-new.", 1)
    _set_raw_column(request.pk, relabelled)
    with pytest.raises(vault.CiphertextInvalid, match="'k-new'"):
        ProvisioningRequest.objects.get(pk=request.pk).wallet_payload


@pytest.mark.django_db
@pytest.mark.parametrize("garbage", ["not sealed", "v2.k.abc", "v1..abc", "v1.k-old.@@@@",
                                     "v1.k-old.AAAA"])
def test_malformed_ciphertext_raises_instead_of_returning_garbage(two_keys, garbage):
    request = ProvisioningRequestFactory()
    _set_raw_column(request.pk, garbage)
    with pytest.raises(vault.VaultError):
        ProvisioningRequest.objects.get(pk=request.pk).wallet_payload


@pytest.mark.django_db
def test_rows_under_an_older_key_still_read_after_the_active_key_changes(two_keys):
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    two_keys.ENCRYPTION_ACTIVE_KEY_ID = "k-new"
    loaded = ProvisioningRequest.objects.get(pk=request.pk)
    assert loaded.wallet_payload == PAYLOAD
    loaded.save()  # opened, so sealed again: under the new key
    assert _raw_column(request.pk).startswith("v1.k-new.")


@pytest.mark.django_db
def test_an_unknown_active_key_refuses_to_seal_and_names_it(settings):
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-typo"
    with pytest.raises(vault.UnknownKeyId, match="'k-typo'"):
        ProvisioningRequestFactory(wallet_payload=PAYLOAD)


@pytest.mark.django_db
def test_plain_values_cannot_bypass_sealing_through_update_or_filter():
    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    with pytest.raises(TypeError, match="sealed per row"), transaction.atomic():
        ProvisioningRequest.objects.filter(pk=request.pk).update(wallet_payload={"a": 1})
    with pytest.raises(TypeError, match="sealed per row"), transaction.atomic():
        list(ProvisioningRequest.objects.filter(wallet_payload=PAYLOAD))
    assert ProvisioningRequest.objects.filter(wallet_payload__isnull=False).count() == 1


@pytest.mark.django_db
def test_dumpdata_style_serialisation_writes_ciphertext():
    from django.core import serializers

    request = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    dumped = json.loads(serializers.serialize("json", [request]))
    assert dumped[0]["fields"]["wallet_payload"].startswith("v1.")
    assert "b3BhcXVl" not in json.dumps(dumped)


def test_field_is_kept_out_of_forms_and_admin():
    field = ProvisioningRequest._meta.get_field("wallet_payload")
    assert field.editable is False and field.formfield() is None


def test_a_broken_key_ring_is_reported_by_the_system_check(settings):
    settings.ENCRYPTION_KEYS = {"short": base64.b64encode(b"x" * 16).decode()}
    field = ProvisioningRequest._meta.get_field("wallet_payload")
    errors = [e for e in field.check() if e.id == "tokens.E002"]
    assert errors and "'short' must be 32 bytes" in errors[0].msg


def test_a_model_with_an_auto_increment_key_is_refused_by_the_system_check():
    from django.db import models
    from django.test.utils import isolate_apps

    with isolate_apps("tokens"):  # a throwaway registry: the real one never sees Note
        class Note(models.Model):
            secret = EncryptedJSONField()

            class Meta:
                app_label = "tokens"

        errors = Note._meta.get_field("secret").check()
    assert [e.id for e in errors if isinstance(e, checks.Error)] == ["tokens.E001"]
