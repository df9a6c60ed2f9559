"""Conditional GET of a provisioning request (core/conditional.py, provisioning/polling.py):
a strong ETag that moves with every column the body is computed from, 304 on a match,
and authentication, ownership and throttling exactly as without the header."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import polling
from provisioning.api.serializers import ProvisioningRequestSerializer
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tokens.models import Token, TokenState

pytestmark = pytest.mark.django_db

URL = "/api/v1/provisioning-requests/{}"


@pytest.fixture
def pushed(customer_id):
    return ProvisioningRequestFactory(customer_id=customer_id, state=State.TOKEN_REQUESTED)


def _get(client, request_id, tag=None):
    extra = {"HTTP_IF_NONE_MATCH": tag} if tag is not None else {}
    return client.get(URL.format(request_id), **extra)


def test_an_answer_carries_a_strong_etag_and_is_private(api_client, pushed):
    response = _get(api_client, pushed.pk)
    assert response.status_code == 200
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Cache-Control"] == "private, no-cache"


def test_the_current_etag_is_answered_304_without_a_body(api_client, pushed):
    tag = _get(api_client, pushed.pk)["ETag"]
    response = _get(api_client, pushed.pk, tag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == tag
    assert response["Cache-Control"] == "private, no-cache"


def test_a_poll_that_matches_reads_one_narrow_row(api_client, pushed,
                                                  django_assert_num_queries):
    tag = _get(api_client, pushed.pk)["ETag"]
    with django_assert_num_queries(1) as captured:
        assert _get(api_client, pushed.pk, tag).status_code == 304
    sql = captured.captured_queries[0]["sql"]
    assert "wallet_data" not in sql and "decision_reasons" not in sql


def _moved(api_client, request_id, tag):
    response = _get(api_client, request_id, tag)
    assert response.status_code == 200, "the old tag must not match once the body moved"
    assert response["ETag"] != tag
    assert _get(api_client, request_id, response["ETag"]).status_code == 304
    return response


# Each column the body reads, moved by a bulk UPDATE (which leaves updated_at alone, so
# the tag cannot lean on it).
@pytest.mark.parametrize("change", [
    {"state": State.STEP_UP_REQUIRED},
    {"card_last4": "9999"},
    {"wallet_account_id": "acct-2"},
    {"otp_attempts_left": 2},
    {"failure_code": "issuer_unavailable"},
    {"wallet_payload_erased_reason": "expired"},
    {"device_os": "android-16"},
    {"updated_at": timezone.now() + timedelta(seconds=5)},
], ids=lambda change: next(iter(change)))
def test_the_etag_moves_with_each_column_of_the_body(api_client, pushed, change):
    tag = _get(api_client, pushed.pk)["ETag"]
    ProvisioningRequest.objects.filter(pk=pushed.pk).update(**change)
    _moved(api_client, pushed.pk, tag)


def test_the_etag_moves_with_the_step_up_expiry(api_client, customer_id):
    waiting = ProvisioningRequestFactory(customer_id=customer_id, state=State.STEP_UP_REQUIRED,
                                         otp_expires_at=timezone.now(), otp_attempts_left=3)
    tag = _get(api_client, waiting.pk)["ETag"]
    later = timezone.now() + timedelta(minutes=5)
    ProvisioningRequest.objects.filter(pk=waiting.pk).update(otp_expires_at=later)
    body = _moved(api_client, waiting.pk, tag).json()
    assert body["step_up"]["expires_at"] is not None


def test_the_etag_moves_with_the_token_row(api_client, customer_id):
    token = TokenFactory(provisioning_request__customer_id=customer_id)
    request_id = token.provisioning_request_id
    tag = _get(api_client, request_id)["ETag"]
    Token.objects.filter(pk=token.pk).update(state=TokenState.SUSPENDED)
    moved = _moved(api_client, request_id, tag)
    assert moved.json()["token"]["state"] == TokenState.SUSPENDED
    Token.objects.filter(pk=token.pk).update(token_last4="0007")
    assert _moved(api_client, request_id, moved["ETag"]).json()["token"]["last4"] == "0007"


def test_the_etag_moves_when_a_token_appears(api_client, pushed):
    tag = _get(api_client, pushed.pk)["ETag"]
    TokenFactory(provisioning_request=pushed)
    assert _moved(api_client, pushed.pk, tag).json()["token"] is not None


def test_the_etag_moves_with_the_wallet_payload(api_client, pushed):
    ProvisioningRequest.objects.filter(pk=pushed.pk).update(state=State.PROVISIONED)
    row = ProvisioningRequest.objects.get(pk=pushed.pk)
    row.wallet_payload = {"opc": "first"}
    row.save(update_fields=["wallet_payload"])  # updated_at is not in update_fields
    tag = _get(api_client, pushed.pk)["ETag"]
    row.wallet_payload = {"opc": "second"}
    row.save(update_fields=["wallet_payload"])
    assert _moved(api_client, pushed.pk, tag).json()["wallet_payload"] == {"opc": "second"}


def test_every_column_the_serializer_names_is_in_the_validator():
    columns = {field.name for field in ProvisioningRequest._meta.concrete_fields}
    named = set(ProvisioningRequestSerializer.Meta.fields) & columns
    assert named <= set(polling.VALIDATOR_FIELDS)


# --- If-None-Match as RFC 9110 reads it ---------------------------------------------------

@pytest.mark.parametrize("header", [
    "{tag}", "W/{tag}", "*", '"nope", {tag}', '{tag} , "nope"', ' {tag} ',
])
def test_matching_forms_answer_304(api_client, pushed, header):
    tag = _get(api_client, pushed.pk)["ETag"]
    assert _get(api_client, pushed.pk, header.format(tag=tag)).status_code == 304


@pytest.mark.parametrize("header", [
    "garbage", '"unterminated', "{bare}", '"nope"', 'W/"nope", "other"', ",,,", "**",
    '"nope", *', "x" * 4000, "\u00e9t\u00e9",
])
def test_other_or_malformed_values_are_ignored_and_answer_200(api_client, pushed, header):
    tag = _get(api_client, pushed.pk)["ETag"]
    response = _get(api_client, pushed.pk, header.format(bare=tag.strip('"')))
    assert response.status_code == 200
    assert response.json()["id"] == str(pushed.pk)
    assert response["ETag"] == tag


# --- authentication, ownership, throttling --------------------------------------------

@pytest.mark.parametrize("header", ["{tag}", "*"])
def test_another_customer_gets_the_same_404_with_any_tag(api_client, other_client, pushed,
                                                         header):
    tag = _get(api_client, pushed.pk)["ETag"]
    plain = _get(other_client, pushed.pk)
    conditional = _get(other_client, pushed.pk, header.format(tag=tag))
    assert (conditional.status_code, conditional.json()) == (404, plain.json())
    assert "ETag" not in conditional


@pytest.mark.parametrize("request_id", ["not-a-uuid", "3f0c1e0a-0000-4000-8000-000000000000"])
def test_an_unknown_id_is_404_with_a_tag(api_client, request_id):
    response = _get(api_client, request_id, "*")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_without_a_token_it_is_401_with_a_tag(api_client, pushed):
    from rest_framework.test import APIClient

    tag = _get(api_client, pushed.pk)["ETag"]
    response = _get(APIClient(), pushed.pk, tag)
    assert response.status_code == 401
    assert "ETag" not in response


def test_polls_that_match_are_still_throttled(api_client, pushed, settings):
    from django.core.cache import cache

    tag = _get(api_client, pushed.pk)["ETag"]
    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"customer": "3/min",
                                                          "client_ip": "100/min"}}
    try:
        statuses = [_get(api_client, pushed.pk, tag).status_code for _ in range(4)]
    finally:
        cache.clear()
    assert statuses == [304, 304, 304, 429]
