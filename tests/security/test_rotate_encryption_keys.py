"""`rotate_encryption_keys`: every row ends under the active key, in committed batches that
can be stopped and resumed, with counts per field and old key, and loud failures."""

from __future__ import annotations

import base64
import io
import secrets
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections, transaction

from provisioning.models import ProvisioningRequest
from tests.factories import ProvisioningRequestFactory

PAYLOAD = {"opaque_payment_card": "cm90YXRl"}


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _sealed_columns() -> dict:
    return dict(ProvisioningRequest.objects.values_list("pk", "wallet_payload"))


def _rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def rows_under_old_key(settings):
    """Five payloads sealed under k-old, then k-new made active (the rotation moment)."""
    settings.ENCRYPTION_KEYS = {"k-old": _key(), "k-new": _key()}
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-old"
    rows = [ProvisioningRequestFactory(wallet_payload={**PAYLOAD, "n": n}) for n in range(5)]
    ProvisioningRequestFactory()  # no payload: nothing to rotate
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-new"
    return rows


@pytest.mark.django_db
def test_rotation_reseals_every_row_under_the_active_key_and_reports_counts(rows_under_old_key):
    output = _rotate("--batch-size", "2")
    assert all(value.startswith("v1.k-new.") for value in _sealed_columns().values() if value)
    assert "provisioning.ProvisioningRequest.wallet_payload: 5 re-sealed under 'k-new' " \
           "(from k-old: 5), 0 failed, 0 left" in output
    assert output.count("batch ") == 3  # 2 + 2 + 1


@pytest.mark.django_db
def test_rotated_rows_open_to_the_same_values_once_the_old_key_is_gone(rows_under_old_key,
                                                                       settings):
    _rotate()
    settings.ENCRYPTION_KEYS = {"k-new": settings.ENCRYPTION_KEYS["k-new"]}
    values = {row.pk: ProvisioningRequest.objects.get(pk=row.pk).wallet_payload
              for row in rows_under_old_key}
    assert values == {row.pk: {**PAYLOAD, "n": n} for n, row in enumerate(rows_under_old_key)}


@pytest.mark.django_db
def test_a_stopped_rotation_resumes_where_it_left_off(rows_under_old_key):
    first = _rotate("--limit", "3", "--batch-size", "2")
    assert "3 re-sealed" in first and "2 left" in first
    under_new = [v for v in _sealed_columns().values() if v and v.startswith("v1.k-new.")]
    assert len(under_new) == 3
    second = _rotate()
    assert "2 re-sealed" in second and "0 left" in second


@pytest.mark.django_db
def test_running_again_after_a_full_rotation_changes_nothing(rows_under_old_key):
    _rotate()
    before = _sealed_columns()
    assert "0 re-sealed" in _rotate()
    assert _sealed_columns() == before


@pytest.mark.django_db
def test_dry_run_counts_rows_per_key_and_changes_nothing(rows_under_old_key):
    before = _sealed_columns()
    output = _rotate("--dry-run")
    assert "5 would be re-sealed under 'k-new' (rows by key: k-old: 5)" in output
    assert _sealed_columns() == before


@pytest.mark.django_db
def test_rows_that_do_not_open_are_reported_by_key_and_the_rest_still_rotate(rows_under_old_key,
                                                                             settings):
    settings.ENCRYPTION_KEYS = {**settings.ENCRYPTION_KEYS, "k-lost": _key()}
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-lost"
    orphan = ProvisioningRequestFactory(wallet_payload=PAYLOAD)
    settings.ENCRYPTION_KEYS = {k: v for k, v in settings.ENCRYPTION_KEYS.items() if k != "k-lost"}
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-new"
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 value"):
        call_command("rotate_encryption_keys", stdout=out, stderr=out)
    assert "encryption key 'k-lost' is not in ENCRYPTION_KEYS" in out.getvalue()
    assert str(orphan.pk) in out.getvalue()
    columns = _sealed_columns()
    assert columns[orphan.pk].startswith("v1.k-lost.")
    assert sum(1 for v in columns.values() if v and v.startswith("v1.k-new.")) == 5


@pytest.mark.django_db
def test_an_active_key_missing_from_the_ring_stops_the_command(settings):
    settings.ENCRYPTION_ACTIVE_KEY_ID = "k-typo"
    with pytest.raises(CommandError, match="'k-typo' is not in ENCRYPTION_KEYS"):
        _rotate()


@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_a_worker_is_skipped_not_waited_on(rows_under_old_key):
    locked_pk = rows_under_old_key[0].pk
    holding, release = threading.Event(), threading.Event()

    def worker_holds_the_row():
        try:
            with transaction.atomic():
                ProvisioningRequest.objects.select_for_update().get(pk=locked_pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker_holds_the_row)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        output = _rotate("--batch-size", "2")
    finally:
        release.set()
        thread.join(timeout=30)
    assert "4 re-sealed" in output and "1 left" in output
    assert _sealed_columns()[locked_pk].startswith("v1.k-old.")
    assert "1 re-sealed" in _rotate()
