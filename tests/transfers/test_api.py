"""The Visa Direct API: shapes, coded 4xx for every bad input (nothing held, nothing
sent), 404 for another customer's objects, idempotency of POST /transfers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from transfers.models import Payee, Quote, State, Transfer

from .factories import GREEN_PAN, PayeeFactory, QuoteFactory, TransferFactory

pytestmark = pytest.mark.django_db

CUSTOMER = "cust_demo"


@pytest.fixture
def payee():
    return PayeeFactory(customer_id=CUSTOMER)


def _quote(api_client, payee, value=100_000, currency="KES"):
    return api_client.post("/api/v1/transfer-quotes", {
        "payee_id": str(payee.pk), "amount": {"value": value, "currency": currency}},
        format="json")


def _transfer(api_client, quote_id, key=None):
    return api_client.post("/api/v1/transfers", {"quote_id": str(quote_id)}, format="json",
                           HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


def _code(response):
    return response.json()["error"]["code"]


# --- payees -------------------------------------------------------------------------------

def test_a_payee_is_created_with_its_attributes_and_no_pan_in_the_answer(api_client, network):
    response = api_client.post("/api/v1/payees", {"pan": GREEN_PAN, "name": "Jane Wanjiku"},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "last4", "push_enabled", "fast_funds", "country",
                         "currency", "created_at"}
    assert (body["last4"], body["push_enabled"], body["country"]) == ("0010", True, "KE")
    assert GREEN_PAN not in response.content.decode()


def test_a_card_that_cannot_receive_is_422_and_not_kept(api_client, network):
    network.cannot_receive.add("4000000000000051")
    response = api_client.post("/api/v1/payees", {"pan": "4000000000000051", "name": "Jane"},
                               format="json")
    assert (response.status_code, _code(response)) == (422, "card_cannot_receive")
    assert not Payee.objects.exists()


@pytest.mark.parametrize("pan", ["4000000000000011", "4000", "40000000000000100000",
                                 "4000-0000-0000-0010", 4000000000000010, "４０００"])
def test_a_pan_failing_the_checks_is_400_invalid_pan(api_client, network, pan):
    response = api_client.post("/api/v1/payees", {"pan": pan, "name": "Jane"}, format="json")
    assert (response.status_code, _code(response)) == (400, "invalid_pan")
    assert str(pan) not in response.content.decode()
    assert not Payee.objects.exists()


@pytest.mark.parametrize("name", ["Jane\x00Doe", "Jane\nDoe", "Jane\u202eDoe", "", "   ",
                                  "x" * 61, 42, "Jane 4000000000000010"])
def test_a_name_with_control_characters_or_out_of_shape_is_400_invalid_name(api_client,
                                                                           network, name):
    response = api_client.post("/api/v1/payees", {"pan": GREEN_PAN, "name": name},
                               format="json")
    assert (response.status_code, _code(response)) == (400, "invalid_name")
    assert not Payee.objects.exists()


def test_payees_are_listed_and_deleted_only_by_their_customer(api_client, other_client, payee):
    assert [p["id"] for p in api_client.get("/api/v1/payees").json()["results"]] == [
        str(payee.pk)]
    assert other_client.get("/api/v1/payees").json()["results"] == []
    assert other_client.delete(f"/api/v1/payees/{payee.pk}").status_code == 404
    assert api_client.delete(f"/api/v1/payees/{payee.pk}").status_code == 204
    assert api_client.get("/api/v1/payees").json()["results"] == []


# --- quotes -------------------------------------------------------------------------------

def test_a_quote_has_amount_fee_total_delivery_and_expiry(api_client, payee):
    response = _quote(api_client, payee, 500_000)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == {"value": 500_000, "currency": "KES"}
    assert body["fee"] == {"value": 7500, "currency": "KES"}
    assert body["total"] == {"value": 507_500, "currency": "KES"}
    assert body["delivery"] == "instant" and body["expires_at"]


@pytest.mark.parametrize("value", [0, -100, 100.5, 100.0, "100", True, None, 10**15,
                                   [100], {"v": 1}])
def test_an_amount_that_is_not_a_positive_whole_number_of_minor_units_is_400(
        api_client, payee, value):
    response = _quote(api_client, payee, value)
    assert (response.status_code, _code(response)) == (400, "invalid_amount")
    assert not Quote.objects.exists()


@pytest.mark.parametrize("currency", ["USD", "kes", "", None, 404])
def test_a_currency_other_than_kes_is_400_invalid_currency(api_client, payee, currency):
    response = _quote(api_client, payee, 100_000, currency)
    assert (response.status_code, _code(response)) == (400, "invalid_currency")


def test_a_quote_over_the_limit_is_422_naming_the_limit(api_client, payee, settings):
    settings.TRANSFER_LIMITS = {"1": {"per_transaction": 50_000, "per_day": 100_000}}
    response = _quote(api_client, payee, 50_001)
    assert (response.status_code, _code(response)) == (422, "limit_exceeded")
    assert response.json()["error"]["details"]["limit"] == "per_transaction"
    assert response.json()["error"]["details"]["limit_value"] == 50_000


def test_another_customers_payee_cannot_be_quoted(other_client, payee):
    assert _quote(other_client, payee).status_code == 404


# --- transfers ----------------------------------------------------------------------------

def test_a_transfer_is_accepted_against_a_quote(api_client, payee, no_tasks):
    quote = QuoteFactory(payee=payee)
    response = _transfer(api_client, quote.pk)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "received"
    assert body["payee"] == {"id": str(payee.pk), "name": payee.name, "last4": "0010"}
    assert body["total"]["value"] == quote.total
    assert no_tasks == [("check_transfer_task", body["id"])]


def test_the_same_key_and_body_replays_and_another_key_for_the_same_quote_is_quote_used(
        api_client, payee, no_tasks):
    quote = QuoteFactory(payee=payee)
    first = _transfer(api_client, quote.pk, key="k-1")
    again = _transfer(api_client, quote.pk, key="k-1")
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = _transfer(api_client, quote.pk, key="k-2")
    assert (other.status_code, _code(other)) == (409, "quote_used")
    assert Transfer.objects.count() == 1 and len(no_tasks) == 1


def test_the_same_key_with_another_body_is_422(api_client, payee, no_tasks):
    _transfer(api_client, QuoteFactory(payee=payee).pk, key="k-1")
    response = _transfer(api_client, QuoteFactory(payee=payee).pk, key="k-1")
    assert (response.status_code, _code(response)) == (422, "idempotency_key_reused")


def test_a_key_kept_past_its_ttl_is_free_for_a_new_transfer(api_client, payee, no_tasks,
                                                              settings):
    from transfers.models import IdempotencyKey

    first = _transfer(api_client, QuoteFactory(payee=payee).pk, key="k-old")
    IdempotencyKey.objects.filter(key="k-old").update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(seconds=1))
    second = _transfer(api_client, QuoteFactory(payee=payee).pk, key="k-old")
    assert second.status_code == 202 and "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.filter(key="k-old").count() == 1
    assert Transfer.objects.count() == 2


def test_a_transfer_needs_an_idempotency_key(api_client, payee):
    response = api_client.post("/api/v1/transfers", {"quote_id": str(QuoteFactory(payee=payee).pk)},
                               format="json")
    assert (response.status_code, _code(response)) == (400, "idempotency_key_required")


def test_an_expired_quote_is_409_and_nothing_is_queued(api_client, payee, no_tasks):
    quote = QuoteFactory(payee=payee, expires_at=timezone.now() - timedelta(seconds=1))
    response = _transfer(api_client, quote.pk)
    assert (response.status_code, _code(response)) == (409, "quote_expired")
    assert not Transfer.objects.exists() and no_tasks == []


def test_another_customers_quote_is_404(other_client, payee, no_tasks):
    response = _transfer(other_client, QuoteFactory(payee=payee).pk)
    assert response.status_code == 404
    assert not Transfer.objects.exists()


def test_a_quote_whose_payee_was_deleted_is_409_payee_deleted(api_client, payee, no_tasks):
    quote = QuoteFactory(payee=payee)
    api_client.delete(f"/api/v1/payees/{payee.pk}")
    response = _transfer(api_client, quote.pk)
    assert (response.status_code, _code(response)) == (409, "payee_deleted")
    assert not Transfer.objects.exists() and no_tasks == []


def test_a_malformed_quote_id_is_400(api_client):
    response = _transfer(api_client, "not-a-uuid")
    assert (response.status_code, _code(response)) == (400, "validation_error")


def test_a_transfer_is_read_only_by_its_customer(api_client, other_client, payee):
    transfer = TransferFactory(quote__payee=payee)
    assert api_client.get(f"/api/v1/transfers/{transfer.pk}").json()["state"] == "received"
    assert other_client.get(f"/api/v1/transfers/{transfer.pk}").status_code == 404
    assert [t["id"] for t in api_client.get("/api/v1/transfers").json()["results"]] == [
        str(transfer.pk)]
    assert other_client.get("/api/v1/transfers").json()["results"] == []


def test_cancel_is_200_before_the_hold_and_409_after(api_client, payee):
    early = TransferFactory(quote__payee=payee, state=State.CHECKED)
    response = api_client.post(f"/api/v1/transfers/{early.pk}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert response.json()["failure"]["code"] == "cancelled_by_customer"
    late = TransferFactory(quote__payee=payee, state=State.FUNDS_HELD)
    response = api_client.post(f"/api/v1/transfers/{late.pk}/cancel")
    assert (response.status_code, _code(response)) == (409, "cancel_not_allowed")


def test_a_declined_transfer_tells_the_customer_the_money_came_back(api_client, payee):
    transfer = TransferFactory(quote__payee=payee, state=State.DECLINED,
                               failure_code="network_declined:PROCESSOR_DECLINED")
    failure = api_client.get(f"/api/v1/transfers/{transfer.pk}").json()["failure"]
    assert failure["code"] == "declined_by_network"
    assert "PROCESSOR" not in failure["message"]
