"""A wallet's own block (tokens/wallets.py) is kept sealed in `wallet_data`, goes into the
provision call as its wallet says, is erased once the request is over, and the migration
carried the old `apple_data` rows over."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from provisioning import sweeps
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory
from tokens import wallets

APPLE = {"certificates": ["MIIBAAAA"], "nonce": "q83vEg==", "nonce_signature": "c2ln"}


def test_only_apple_pay_puts_a_block_into_the_provision_call():
    assert wallets.get("apple_pay").provision_fields(APPLE) == {"apple": APPLE}
    assert wallets.get("google_pay").provision_fields(None) == {}
    assert wallets.get("samsung_pay").provision_fields(None) == {}


def test_the_models_wallet_choices_are_the_registry():
    field = ProvisioningRequest._meta.get_field("wallet")
    assert list(field.choices) == wallets.choices()


@pytest.mark.django_db
def test_wallet_data_is_sealed_at_rest():
    request = ProvisioningRequestFactory(wallet="apple_pay", wallet_data=APPLE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_data FROM provisioning_provisioningrequest WHERE id = %s",
                       [request.pk.hex if connection.vendor == "sqlite" else request.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("v1.") and "q83vEg" not in stored
    assert ProvisioningRequest.objects.get(pk=request.pk).wallet_data == APPLE


@pytest.mark.django_db
def test_the_erase_job_drops_wallet_data_of_finished_requests_only():
    finished = [ProvisioningRequestFactory(wallet="apple_pay", wallet_data=APPLE, state=state,
                                           due_at=None)
                for state in (State.PROVISIONED, State.DECLINED, State.CANCELLED)]
    kept = [ProvisioningRequestFactory(wallet="apple_pay", wallet_data=APPLE, state=state)
            for state in (State.RECEIVED, State.TOKEN_REQUESTED, State.FAILED)]
    sweeps.erase_expired_wallet_payloads()
    for request in finished:
        assert ProvisioningRequest.objects.get(pk=request.pk).wallet_data is None
    for request in kept:
        assert ProvisioningRequest.objects.get(pk=request.pk).wallet_data == APPLE


@pytest.mark.django_db(transaction=True)
def test_the_migration_carries_apple_data_into_sealed_wallet_data():
    executor = MigrationExecutor(connection)
    before, after = [("provisioning", "0005_transition_log_moves_to_core")], \
        [("provisioning", "0006_wallet_data")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("provisioning",
                                                               "ProvisioningRequest")
    row = old.objects.create(customer_id="c", card_id="card", wallet="apple_pay", device_id="d",
                             device_type="phone", device_os="ios", apple_data=APPLE)
    plain = old.objects.create(customer_id="c", card_id="card", wallet="google_pay",
                               device_id="e", device_type="phone", device_os="android")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    assert ProvisioningRequest.objects.get(pk=row.pk).wallet_data == APPLE
    assert ProvisioningRequest.objects.get(pk=plain.pk).wallet_data is None
