"""core/statements.py: a step's load folded into its attempt count, a save that writes only
what changed (under the FSM's state check), an insert that a trigger may drop."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django_fsm import ConcurrentTransition

from core import statements
from core.models import Trigger
from provisioning.models import ProvisioningRequest, State
from tests.factories import ProvisioningRequestFactory

pytestmark = pytest.mark.django_db


def _claimed(request):
    return statements.claim_step(ProvisioningRequest, str(request.pk), State.RECEIVED)


def test_a_claim_counts_the_attempt_and_returns_the_row_as_stored():
    request = ProvisioningRequestFactory(state=State.RECEIVED, attempts=2,
                                         wallet_data={"nonce": "abc"})
    claimed = _claimed(request)
    assert claimed.pk == request.pk
    assert claimed.attempts == 3
    assert claimed.wallet_data == {"nonce": "abc"}  # a sealed field opens as on a read
    assert ProvisioningRequest.objects.get(pk=request.pk).attempts == 3


def test_a_claim_of_a_row_in_another_state_is_none_and_counts_nothing():
    request = ProvisioningRequestFactory(state=State.ELIGIBLE, attempts=1)
    assert _claimed(request) is None
    assert statements.claim_step(ProvisioningRequest, request.pk,
                                 (State.ELIGIBLE, State.TOKEN_REQUESTED)).attempts == 2
    assert ProvisioningRequest.objects.get(pk=request.pk).attempts == 2


def test_a_claim_of_a_missing_row_is_none():
    assert statements.claim_step(ProvisioningRequest, "00000000-0000-0000-0000-000000000000",
                                 State.RECEIVED) is None


def test_only_changed_fields_are_written_with_the_auto_now_ones():
    request = _claimed(ProvisioningRequestFactory(state=State.RECEIVED))
    assert statements.changed_fields(request) == ["updated_at"]
    request.card_last4 = "4242"
    request.decision_reasons.append("new_device")  # a change in place still shows
    assert set(statements.changed_fields(request)) == {"card_last4", "decision_reasons",
                                                       "updated_at"}


def test_a_save_keeps_what_another_writer_changed_meanwhile():
    request = _claimed(ProvisioningRequestFactory(state=State.RECEIVED, redrives=0))
    # Beat re-drives the row while the step waits on the issuer.
    ProvisioningRequest.objects.filter(pk=request.pk).update(redrives=F("redrives") + 1)
    with transaction.atomic():
        request.card_product = "visa_gold"
        statements.save_changed(request)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.card_product, stored.redrives) == ("visa_gold", 1)


def test_a_save_writes_only_the_changed_columns():
    request = _claimed(ProvisioningRequestFactory(state=State.RECEIVED))
    request.card_product = "visa_gold"
    with CaptureQueriesContext(connection) as queries:
        statements.save_changed(request)
    update = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE"))
    assert '"card_product"' in update and '"wallet_data"' not in update
    assert statements.changed_fields(request) == ["updated_at"]  # saved counts as loaded


def test_a_move_of_a_row_someone_else_moved_is_refused_and_rolls_back():
    request = _claimed(ProvisioningRequestFactory(state=State.RECEIVED))
    ProvisioningRequest.objects.filter(pk=request.pk).update(state=State.CANCELLED)
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        request.mark_eligible(by=Trigger.WORKER, card_last4="9999")
        statements.save_changed(request)
    stored = ProvisioningRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.card_last4) == (State.CANCELLED, "1111")
