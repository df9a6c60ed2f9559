"""Beat's sweeps read through their partial indexes, so their cost follows the rows that
are due, not the size of the table (the plans PostgreSQL chooses, asserted)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.models import MOVING_STATES, ProvisioningRequest, State
from tokens.models import Token, TokenState


@pytest.fixture
def big_table(db):
    """A few thousand settled rows and a handful of due ones, then fresh statistics."""
    now = timezone.now()
    rows = [ProvisioningRequest(customer_id=f"c{i}", card_id="card", wallet="google_pay",
                                device_id=f"d{i}", device_type="phone", device_os="os",
                                state=State.PROVISIONED, due_at=None) for i in range(3000)]
    rows += [ProvisioningRequest(customer_id=f"s{i}", card_id="card", wallet="google_pay",
                                 device_id=f"s{i}", device_type="phone", device_os="os",
                                 state=State.RECEIVED, due_at=now - timedelta(minutes=5))
             for i in range(10)]
    ProvisioningRequest.objects.bulk_create(rows, batch_size=1000)
    tokens = [Token(provisioning_request=row, customer_id=row.customer_id, card_id="card",
                    wallet="google_pay", device_id=row.device_id, token_ref=f"tkn_{i}",
                    pan_fingerprint="f" * 64, state=TokenState.ACTIVE,
                    last_reconciled_at=now if i >= 10 else now - timedelta(days=1))
              for i, row in enumerate(rows[:3000])]
    Token.objects.bulk_create(tokens, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE provisioning_provisioningrequest")
        cursor.execute("ANALYZE tokens_token")
    return now


def plan(queryset) -> str:
    text = queryset.explain()
    assert "Seq Scan" not in text, f"the sweep scans the whole table:\n{text}"
    return text


@pytest.mark.django_db
def test_the_stuck_request_sweep_reads_the_due_index(big_table):
    query = (ProvisioningRequest.objects
             .filter(due_at__isnull=False, due_at__lte=big_table, state__in=MOVING_STATES)
             .order_by("due_at")[:200])
    text = plan(query)
    assert "pr_due_idx" in text, text


@pytest.mark.django_db
def test_the_step_up_sweep_reads_the_due_index(big_table):
    query = (ProvisioningRequest.objects
             .filter(due_at__isnull=False, due_at__lte=big_table,
                     state__in=[State.STEP_UP_REQUIRED])
             .order_by("due_at")[:200])
    text = plan(query)
    # Either index bounds the read by the requests waiting for a code.
    assert "pr_due_idx" in text or "pr_state_age_idx" in text, text


@pytest.mark.django_db
def test_the_wallet_payload_eraser_reads_the_payload_expiry_index(big_table):
    query = (ProvisioningRequest.objects
             .filter(wallet_payload__isnull=False, wallet_payload_expires_at__lte=big_table)
             .order_by("wallet_payload_expires_at").values_list("pk", flat=True)[:200])
    text = plan(query)
    assert "pr_payload_expiry_idx" in text, text


@pytest.mark.django_db
def test_the_token_reconciliation_reads_the_reconcile_index(big_table):
    query = (Token.objects.exclude(state=TokenState.DELETED)
             .filter(last_reconciled_at__lt=big_table - timedelta(hours=1))
             .order_by("last_reconciled_at").values_list("pk", "token_ref", "state")[:200])
    text = plan(query)
    assert "token_reconcile_idx" in text, text
