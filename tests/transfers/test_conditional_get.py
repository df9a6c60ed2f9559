"""Conditional GET of a transfer (core/conditional.py, transfers/polling.py): a strong
ETag that moves with every column the body is computed from (its payee's included), 304
on a match, and ownership exactly as without the header."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from transfers import polling
from transfers.api.serializers import TransferSerializer
from transfers.models import Payee, State, Transfer

from .factories import PayeeFactory, TransferFactory

pytestmark = pytest.mark.django_db

CUSTOMER = "cust_demo"
URL = "/api/v1/transfers/{}"


@pytest.fixture
def transfer():
    return TransferFactory(quote__payee=PayeeFactory(customer_id=CUSTOMER))


def _get(client, transfer_id, tag=None):
    extra = {"HTTP_IF_NONE_MATCH": tag} if tag is not None else {}
    return client.get(URL.format(transfer_id), **extra)


def test_the_current_etag_is_answered_304_without_a_body(api_client, transfer,
                                                         django_assert_num_queries):
    first = _get(api_client, transfer.pk)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    with django_assert_num_queries(1):
        response = _get(api_client, transfer.pk, first["ETag"])
    assert (response.status_code, response.content) == (304, b"")
    assert response["ETag"] == first["ETag"]
    assert _get(api_client, transfer.pk, f'W/{first["ETag"]}').status_code == 304


@pytest.mark.parametrize("change", [
    {"state": State.SUBMITTED},
    {"failure_code": "network_declined"},
    {"state_changed_at": timezone.now() + timedelta(seconds=5)},
    {"updated_at": timezone.now() + timedelta(seconds=5)},
    {"delivery": "within_2_business_days"},
], ids=lambda change: next(iter(change)))
def test_the_etag_moves_with_each_column_of_the_body(api_client, transfer, change):
    tag = _get(api_client, transfer.pk)["ETag"]
    Transfer.objects.filter(pk=transfer.pk).update(**change)
    response = _get(api_client, transfer.pk, tag)
    assert response.status_code == 200
    assert response["ETag"] != tag


@pytest.mark.parametrize("change", [{"name": "SOMEONE ELSE"}, {"last4": "0001"}],
                         ids=lambda change: next(iter(change)))
def test_the_etag_moves_with_the_payee_row(api_client, transfer, change):
    tag = _get(api_client, transfer.pk)["ETag"]
    Payee.objects.filter(pk=transfer.payee_id).update(**change)
    response = _get(api_client, transfer.pk, tag)
    assert response.status_code == 200
    assert response["ETag"] != tag
    field, value = next(iter(change.items()))
    assert response.json()["payee"][field] == value


def test_every_column_the_serializer_names_is_in_the_validator():
    columns = {field.attname for field in Transfer._meta.concrete_fields}
    named = {f"{name}_id" if f"{name}_id" in columns else name
             for name in TransferSerializer.Meta.fields} & columns
    assert named - {"payee_id"} <= set(polling.VALIDATOR_FIELDS)
    assert {"payee__name", "payee__last4"} <= set(polling.VALIDATOR_FIELDS)


@pytest.mark.parametrize("header", ["garbage", '"nope"', '"nope", *', '"unterminated'])
def test_malformed_or_other_tags_answer_200(api_client, transfer, header):
    tag = _get(api_client, transfer.pk)["ETag"]
    response = _get(api_client, transfer.pk, header.format(tag=tag))
    assert response.status_code == 200
    assert response.json()["id"] == str(transfer.pk)


@pytest.mark.parametrize("header", ["{tag}", "*"])
def test_another_customer_gets_the_same_404_with_any_tag(api_client, other_client, transfer,
                                                         header):
    tag = _get(api_client, transfer.pk)["ETag"]
    plain = _get(other_client, transfer.pk)
    conditional = _get(other_client, transfer.pk, header.format(tag=tag))
    assert (conditional.status_code, conditional.json()) == (404, plain.json())
    assert "ETag" not in conditional


def test_without_a_token_it_is_401_with_a_tag(api_client, transfer):
    from rest_framework.test import APIClient

    tag = _get(api_client, transfer.pk)["ETag"]
    assert _get(APIClient(), transfer.pk, tag).status_code == 401
