"""Visa Direct services with the outside clients stubbed: the money rule, the unknown
outcome, limits, quotes, cancel. A tiny synchronous 'worker' drains what would be queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import NotFound
from core.models import TransitionLog
from core.outside.http import OutsideTimeout, PermanentError, TransientError
from transfers import cards, checks, services, steps, sweeps
from transfers.models import NetworkOutcome, Payee, State, Transfer

from .factories import GREEN_PAN, PayeeFactory, QuoteFactory, TransferFactory

pytestmark = pytest.mark.django_db

STEPS = {
    "check_transfer_task": checks.check_transfer,
    "hold_funds_task": steps.hold_funds,
    "send_payout_task": steps.send_payout,
    "inquire_payout_task": steps.inquire_payout,
    "settle_transfer_task": steps.settle,
}


@pytest.fixture
def drain(no_tasks, django_capture_on_commit_callbacks):
    """Run every queued step (and what it queues) until nothing is left, like a worker."""

    def run(limit: int = 60):
        for _ in range(limit):
            if not no_tasks:
                return
            name, transfer_id = no_tasks.pop(0)
            with django_capture_on_commit_callbacks(execute=True):
                try:
                    STEPS[name](transfer_id)
                except TransientError as exc:
                    if steps.handle_transient_failure(transfer_id, exc) is not None:
                        no_tasks.append((name, transfer_id))
                except PermanentError as exc:
                    steps.handle_permanent_failure(transfer_id, exc)
        raise AssertionError(f"still queued after {limit} steps: {no_tasks[:5]}")

    return run


def _send(quote, drain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transfer = services.create_transfer(services.NewTransfer(
            customer_id=quote.customer_id, quote_id=str(quote.id), kyc_tier="1",
            sender_name="AMINA WANJIRU"))
    drain()
    return Transfer.objects.get(pk=transfer.pk)


def _path(transfer):
    return [(r.from_state, r.to_state) for r in
            TransitionLog.objects.filter(machine="transfer", object_id=transfer.pk).order_by("id")]


@pytest.fixture
def send(drain, django_capture_on_commit_callbacks, fake_ledger, network):
    return lambda quote: _send(quote, drain, django_capture_on_commit_callbacks)


# --- payees -------------------------------------------------------------------------------

def test_a_card_that_can_receive_becomes_a_payee_with_its_pan_sealed(network):
    payee = services.create_payee(services.NewPayee("cust_test", "JANE WANJIKU", GREEN_PAN))
    stored = Payee.objects.values("card", "last4", "pan_fingerprint").get(pk=payee.pk)
    assert stored["last4"] == "0010"
    assert GREEN_PAN not in stored["card"] and stored["card"].startswith("v1.")
    assert Payee.objects.get(pk=payee.pk).card == {"pan": GREEN_PAN}


def test_a_card_that_cannot_receive_is_refused_and_not_kept(network):
    network.cannot_receive.add("4000000000000051")
    with pytest.raises(services.CardCannotReceive):
        services.create_payee(services.NewPayee("cust_test", "JANE", "4000000000000051"))
    assert not Payee.objects.exists()


def test_deleting_a_payee_erases_its_sealed_pan():
    payee = PayeeFactory()
    services.delete_payee("cust_test", payee.pk)
    payee.refresh_from_db()
    assert payee.deleted_at is not None and payee.card is None


# --- quotes and limits --------------------------------------------------------------------

def test_a_quote_prices_the_fee_and_delivery_from_the_payee():
    payee = PayeeFactory(fast_funds=False)
    quote = services.create_quote(customer_id="cust_test", payee_id=payee.pk, amount=500_000,
                                  kyc_tier="1")
    assert (quote.fee, quote.total) == (7500, 507_500)
    assert quote.delivery == "within_2_business_days"
    assert quote.expires_at > timezone.now()


def test_a_quote_above_the_per_transaction_limit_names_the_limit(settings):
    settings.TRANSFER_LIMITS = {"1": {"per_transaction": 100_000, "per_day": 1_000_000}}
    payee = PayeeFactory()
    with pytest.raises(services.LimitExceeded) as caught:
        services.create_quote(customer_id="cust_test", payee_id=payee.pk, amount=100_001,
                              kyc_tier="1")
    assert caught.value.details["limit"] == "per_transaction"
    assert caught.value.details["limit_value"] == 100_000


def test_a_quote_above_what_is_left_of_the_day_names_the_daily_limit(settings):
    settings.TRANSFER_LIMITS = {"1": {"per_transaction": 100_000, "per_day": 150_000}}
    TransferFactory(quote__amount=100_000, state=State.COMPLETED)
    with pytest.raises(services.LimitExceeded) as caught:
        services.create_quote(customer_id="cust_test", payee_id=PayeeFactory().pk,
                              amount=60_000, kyc_tier="1")
    assert caught.value.details["limit"] == "per_day"
    assert caught.value.details["used_today"] == 100_000


def test_an_unknown_kyc_tier_may_not_send():
    with pytest.raises(services.LimitExceeded) as caught:
        services.create_quote(customer_id="cust_test", payee_id=PayeeFactory().pk,
                              amount=100, kyc_tier="9")
    assert caught.value.details["limit"] == "kyc_tier"


def test_another_customers_payee_cannot_be_quoted():
    with pytest.raises(NotFound):
        services.create_quote(customer_id="cust_other", payee_id=PayeeFactory().pk,
                              amount=100, kyc_tier="1")


# --- transfer creation --------------------------------------------------------------------

def _new(quote, customer="cust_test"):
    return services.NewTransfer(customer_id=customer, quote_id=str(quote.id), kyc_tier="1",
                                sender_name="AMINA")


def test_an_expired_quote_cannot_be_sent(no_tasks):
    quote = QuoteFactory(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.QuoteExpired):
        services.create_transfer(_new(quote))
    assert not Transfer.objects.exists() and no_tasks == []


def test_a_quote_is_used_once(no_tasks):
    quote = QuoteFactory()
    services.create_transfer(_new(quote))
    with pytest.raises(services.QuoteUsed):
        services.create_transfer(_new(quote))
    assert Transfer.objects.count() == 1


def test_another_customers_quote_is_not_found(no_tasks):
    with pytest.raises(NotFound):
        services.create_transfer(_new(QuoteFactory(), customer="cust_other"))


def test_a_quote_whose_payee_was_deleted_cannot_be_sent(no_tasks):
    quote = QuoteFactory()
    services.delete_payee("cust_test", quote.payee_id)
    with pytest.raises(services.PayeeDeleted):
        services.create_transfer(_new(quote))
    assert not Transfer.objects.exists()


# --- the money rule -----------------------------------------------------------------------

def test_an_approved_oct_captures_the_hold_once_and_completes(send, fake_ledger, network):
    transfer = send(QuoteFactory())
    assert transfer.state == State.COMPLETED
    assert _path(transfer) == [("received", "checked"), ("checked", "funds_held"),
                               ("funds_held", "submitted"), ("submitted", "completed")]
    assert len(fake_ledger.moves("captured")) == 1 and fake_ledger.moves("released") == []
    assert fake_ledger.balance["cust_test"] == 10_000_000 - transfer.total


def test_settling_twice_moves_money_once(send, fake_ledger):
    transfer = send(QuoteFactory())
    assert steps.settle(transfer.pk) is False
    assert len(fake_ledger.moves("captured")) == 1


def test_a_declined_oct_releases_the_hold_and_the_money_comes_back(send, fake_ledger, network):
    network.send_script = ["declined"]
    transfer = send(QuoteFactory())
    assert transfer.state == State.DECLINED
    assert len(fake_ledger.moves("released")) == 1 and fake_ledger.moves("captured") == []
    assert fake_ledger.balance["cust_test"] == 10_000_000


def test_a_refused_send_releases_from_funds_held(send, fake_ledger, network):
    network.send_script = [PermanentError("invalid_card", system="payouts", status=400)]
    transfer = send(QuoteFactory())
    assert transfer.state == State.DECLINED
    assert ("funds_held", "declined") in _path(transfer)
    assert fake_ledger.balance["cust_test"] == 10_000_000


def test_insufficient_funds_rejects_with_nothing_held_or_sent(send, fake_ledger, network):
    fake_ledger.balance["cust_test"] = 10
    transfer = send(QuoteFactory())
    assert transfer.state == State.REJECTED and transfer.failure_code == "insufficient_funds"
    assert fake_ledger.holds == {} and network.sends == []


def test_a_lost_answer_is_resolved_only_by_inquiry_under_the_same_code(send, fake_ledger,
                                                                       network):
    network.lose_answer_after_paying = True
    transfer = send(QuoteFactory())
    assert transfer.state == State.COMPLETED
    assert network.sends == [str(transfer.pk)]  # asked, not sent again
    assert network.searches >= 1
    assert len(fake_ledger.moves("captured")) == 1


def test_a_pending_oct_is_asked_about_until_approved(send, fake_ledger, network):
    network.send_script = ["pending"]
    network.status_script = ["pending", "approved"]
    transfer = send(QuoteFactory())
    assert transfer.state == State.COMPLETED
    assert network.searches == 2


def test_a_send_the_network_never_took_is_sent_again_under_the_same_code(send, network,
                                                                        settings):
    settings.TRANSFER_NOT_FOUND_CONFIRM_SECONDS = 0
    network.send_script = [TransientError("payouts_unavailable", system="payouts", status=503),
                           "approved"]
    transfer = send(QuoteFactory())
    assert transfer.state == State.COMPLETED
    assert network.sends == [str(transfer.pk)] * 2


def test_not_found_is_believed_only_after_the_confirmation_window(
        network, no_tasks, settings, django_capture_on_commit_callbacks):
    """A search that lags the payout must not make us send again: within the window the
    inquiry waits (one more inquiry, not a send), after it the OCT goes again."""
    settings.TRANSFER_NOT_FOUND_CONFIRM_SECONDS = 60
    transfer = TransferFactory(state=State.SUBMITTED, network_outcome=NetworkOutcome.UNKNOWN,
                               payout_sent_at=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        steps.inquire_payout(transfer.pk)
    transfer.refresh_from_db()
    assert no_tasks == [("inquire_payout_task", str(transfer.pk))]
    assert network.sends == [] and transfer.state == State.SUBMITTED
    assert transfer.inquiries == 1 and transfer.network_outcome == NetworkOutcome.UNKNOWN

    Transfer.objects.filter(pk=transfer.pk).update(
        payout_sent_at=timezone.now() - timedelta(seconds=61))
    network.send_script = ["approved"]
    steps.inquire_payout(transfer.pk)
    transfer.refresh_from_db()
    assert network.sends == [str(transfer.pk)]
    assert transfer.network_outcome == NetworkOutcome.APPROVED


def test_after_the_inquiry_budget_the_transfer_needs_attention_and_money_stays_held(
        send, fake_ledger, network, settings):
    settings.TRANSFER_INQUIRY_BUDGET = 3
    network.send_script = ["pending"]
    network.status_script = ["pending"] * 10
    transfer = send(QuoteFactory())
    assert transfer.state == State.NEEDS_ATTENTION
    assert transfer.inquiries == 3
    assert fake_ledger.moves("captured") == [] and fake_ledger.moves("released") == []


def test_a_crash_between_send_and_record_asks_instead_of_resending(
        fake_ledger, network, no_tasks, drain, django_capture_on_commit_callbacks):
    transfer = TransferFactory(state=State.FUNDS_HELD, hold_id="hold_x",
                               payout_sent_at=timezone.now())
    fake_ledger.holds["hold_x"] = {"id": "hold_x", "status": "held", "total": transfer.total,
                                   "reference": str(transfer.pk), "customer": "cust_test"}
    network.payouts[str(transfer.pk)] = services_status("approved")
    no_tasks.append(("send_payout_task", str(transfer.pk)))
    drain()
    transfer.refresh_from_db()
    assert transfer.state == State.COMPLETED and network.sends == []


def services_status(outcome):
    from transfers.payouts import PayoutStatus

    return PayoutStatus(outcome, "p9")


def test_an_unknown_outcome_is_never_overwritten_by_a_later_doubt():
    transfer = TransferFactory(state=State.SUBMITTED, network_outcome=NetworkOutcome.APPROVED)
    steps.record_unknown_outcome(transfer.pk, "late timeout")
    transfer.refresh_from_db()
    assert transfer.network_outcome == NetworkOutcome.APPROVED


# --- screening, review, cancel ------------------------------------------------------------

def test_a_sanctions_hit_is_rejected_before_any_money_moves(send, fake_ledger, network):
    network.screening = "hit"
    transfer = send(QuoteFactory())
    assert transfer.state == State.REJECTED and transfer.failure_code == "sanctions_hit"
    assert fake_ledger.holds == {}


def test_a_review_waits_for_a_person_then_approval_sends(send, fake_ledger, network, drain,
                                                         django_user_model,
                                                         django_capture_on_commit_callbacks):
    network.screening = "review"
    transfer = send(QuoteFactory())
    assert transfer.state == State.IN_REVIEW and transfer.due_at is None
    officer = django_user_model.objects.create_user("officer")
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_review(transfer.pk, actor=officer, reason="name matches a customer")
    drain()
    transfer.refresh_from_db()
    assert transfer.state == State.COMPLETED
    row = TransitionLog.objects.get(object_id=transfer.pk, to_state="checked")
    assert (row.actor, row.reason, row.trigger) == ("officer", "name matches a customer", "admin")


def test_a_rejected_review_records_who_and_why(network, django_user_model):
    transfer = TransferFactory(state=State.IN_REVIEW)
    officer = django_user_model.objects.create_user("officer")
    services.reject_review(transfer.pk, actor=officer, reason="true match on the list")
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED and transfer.failure_code == "review_rejected"
    assert (transfer.reviewed_by, transfer.review_reason) == ("officer", "true match on the list")


def test_cancel_before_the_hold_and_not_after():
    early = TransferFactory(state=State.CHECKED)
    assert services.cancel_transfer("cust_test", early.pk).state == State.CANCELLED
    late = TransferFactory(state=State.CHECKED, hold_requested_at=timezone.now())
    with pytest.raises(services.StateConflict):
        services.cancel_transfer("cust_test", late.pk)


def test_a_payee_deleted_before_the_hold_rejects_with_nothing_held(
        fake_ledger, network, no_tasks, drain):
    transfer = TransferFactory(state=State.CHECKED)
    services.delete_payee("cust_test", transfer.payee_id)
    no_tasks.append(("hold_funds_task", str(transfer.pk)))
    drain()
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED and transfer.failure_code == "payee_deleted"
    assert fake_ledger.holds == {}


def test_the_ledger_failing_after_a_lost_hold_answer_releases_what_it_held(
        fake_ledger, network, no_tasks, drain, settings):
    settings.OUTSIDE_MAX_ATTEMPTS = 2
    transfer = TransferFactory(state=State.CHECKED)
    real_hold = fake_ledger._hold

    def hold_then_lose(*args):
        real_hold(*args)
        raise OutsideTimeout("mpesa_timeout", system="mpesa")

    fake_ledger._hold = hold_then_lose
    no_tasks.append(("hold_funds_task", str(transfer.pk)))
    drain()
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED and transfer.failure_code == "mpesa_timeout"
    assert [h["status"] for h in fake_ledger.holds.values()] == ["released"]


# --- operations resolve needs_attention from the network ----------------------------------

def test_operations_settle_needs_attention_from_the_networks_answer(
        fake_ledger, network, django_user_model, settings):
    settings.TRANSFER_NOT_FOUND_CONFIRM_SECONDS = 60
    transfer = TransferFactory(state=State.NEEDS_ATTENTION, hold_id="hold_y",
                               network_outcome=NetworkOutcome.UNKNOWN,
                               payout_sent_at=timezone.now())
    fake_ledger.holds["hold_y"] = {"id": "hold_y", "status": "held", "total": transfer.total,
                                   "reference": str(transfer.pk), "customer": "cust_test"}
    officer = django_user_model.objects.create_user("ops")
    with pytest.raises(services.StateConflict):
        services.resolve_from_network(transfer.pk, actor=officer)  # network: nothing yet
    network.payouts[str(transfer.pk)] = services_status("declined")
    resolved = services.resolve_from_network(transfer.pk, actor=officer)
    assert resolved.state == State.DECLINED
    assert fake_ledger.holds["hold_y"]["status"] == "released"
    assert TransitionLog.objects.get(object_id=transfer.pk).actor == "ops"


@pytest.mark.parametrize(("answer", "state", "ledger"), [
    ("approved", State.COMPLETED, "captured"),
    (PermanentError("payouts_refused", "refused", system="payouts"), State.DECLINED,
     "released"),
])
def test_operations_settling_a_payout_the_network_never_took_send_it_under_the_same_code(
        fake_ledger, network, django_user_model, answer, state, ledger):
    """Not found past the confirmation window: the OCT goes again under the transfer's
    code (at most one payout), and only that answer settles; never a release on "not
    found" alone."""
    transfer = TransferFactory(state=State.NEEDS_ATTENTION, hold_id="hold_z",
                               network_outcome=NetworkOutcome.UNKNOWN,
                               payout_sent_at=timezone.now() - timedelta(minutes=10))
    fake_ledger.holds["hold_z"] = {"id": "hold_z", "status": "held", "total": transfer.total,
                                   "reference": str(transfer.pk), "customer": "cust_test"}
    network.send_script = [answer]
    resolved = services.resolve_from_network(
        transfer.pk, actor=django_user_model.objects.create_user("ops"))
    assert network.sends == [str(transfer.pk)]
    assert resolved.state == state and fake_ledger.holds["hold_z"]["status"] == ledger


def test_a_send_again_that_gets_no_answer_settles_nothing(fake_ledger, network,
                                                          django_user_model):
    transfer = TransferFactory(state=State.NEEDS_ATTENTION, hold_id="hold_w",
                               network_outcome=NetworkOutcome.UNKNOWN,
                               payout_sent_at=timezone.now() - timedelta(minutes=10))
    network.send_script = [OutsideTimeout("payouts_timeout", system="payouts")]
    with pytest.raises(services.StateConflict) as refused:
        services.resolve_from_network(transfer.pk,
                                      actor=django_user_model.objects.create_user("ops"))
    assert refused.value.code == "network_unavailable"
    transfer.refresh_from_db()
    assert transfer.state == State.NEEDS_ATTENTION and fake_ledger.holds == {}


def test_a_deleted_payee_keeps_its_card_while_a_transfer_needs_attention():
    transfer = TransferFactory(state=State.NEEDS_ATTENTION)
    services.delete_payee(transfer.customer_id, transfer.payee_id)
    assert Payee.objects.get(pk=transfer.payee_id).card == {"pan": GREEN_PAN}


# --- beat ---------------------------------------------------------------------------------

def test_beat_redrives_an_overdue_transfer_by_its_state(no_tasks,
                                                       django_capture_on_commit_callbacks):
    past = timezone.now() - timedelta(minutes=5)
    received = TransferFactory(state=State.RECEIVED, due_at=past)
    unknown = TransferFactory(state=State.SUBMITTED, due_at=past,
                              network_outcome=NetworkOutcome.UNKNOWN)
    known = TransferFactory(state=State.SUBMITTED, due_at=past,
                            network_outcome=NetworkOutcome.APPROVED)
    TransferFactory(state=State.IN_REVIEW, due_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        counts = sweeps.redrive_due_transfers()
    assert counts == {"redriven": 3, "given_up": 0}
    assert sorted(no_tasks) == sorted([("check_transfer_task", str(received.pk)),
                                       ("inquire_payout_task", str(unknown.pk)),
                                       ("settle_transfer_task", str(known.pk))])


# --- a deleted payee's sealed card ----------------------------------------------------------

def _deleted_while_paying(state, **fields):
    transfer = TransferFactory(state=state, **fields)
    services.delete_payee(transfer.customer_id, transfer.payee_id)
    payee = Payee.objects.get(pk=transfer.payee_id)
    assert payee.deleted_at is not None and payee.card == {"pan": GREEN_PAN}
    return transfer


def test_a_payee_deleted_while_its_oct_is_unsettled_keeps_the_card_until_that_send_ends(
        fake_ledger, network, django_capture_on_commit_callbacks):
    transfer = _deleted_while_paying(State.SUBMITTED, network_outcome=NetworkOutcome.APPROVED,
                                     hold_id="hold_x", payout_sent_at=timezone.now())
    fake_ledger.holds["hold_x"] = {"id": "hold_x", "status": "held", "total": transfer.total,
                                   "reference": str(transfer.pk), "customer": "cust_test"}
    with django_capture_on_commit_callbacks(execute=True):
        assert steps.settle(transfer.pk)
    assert Transfer.objects.get(pk=transfer.pk).state == State.COMPLETED
    assert Payee.objects.get(pk=transfer.payee_id).card is None


def test_a_hold_being_asked_for_keeps_a_deleted_payees_card():
    transfer = _deleted_while_paying(State.CHECKED, hold_requested_at=timezone.now())
    assert Payee.objects.get(pk=transfer.payee_id).card is not None


def _held(fake_ledger, transfer, hold_id):
    fake_ledger.holds[hold_id] = {"id": hold_id, "status": "held", "total": transfer.total,
                                  "reference": str(transfer.pk), "customer": "cust_test"}
    Transfer.objects.filter(pk=transfer.pk).update(hold_id=hold_id)


def test_the_card_goes_only_when_the_last_send_to_it_ends(fake_ledger):
    first = TransferFactory(state=State.SUBMITTED, network_outcome=NetworkOutcome.APPROVED)
    second = TransferFactory(state=State.SUBMITTED, network_outcome=NetworkOutcome.DECLINED,
                             payee=first.payee, quote__payee=first.payee)
    _held(fake_ledger, first, "hold_1")
    _held(fake_ledger, second, "hold_2")
    services.delete_payee(first.customer_id, first.payee_id)
    assert steps.settle(first.pk)
    assert Payee.objects.get(pk=first.payee_id).card is not None  # the second still sends
    assert steps.settle(second.pk)
    assert Payee.objects.get(pk=first.payee_id).card is None
    assert {t.state for t in Transfer.objects.all()} == {State.COMPLETED, State.DECLINED}


def test_a_payee_still_listed_keeps_its_card_when_a_send_ends(fake_ledger):
    transfer = TransferFactory(state=State.SUBMITTED, network_outcome=NetworkOutcome.APPROVED)
    _held(fake_ledger, transfer, "hold_3")
    assert steps.settle(transfer.pk)
    with transaction.atomic():
        assert not cards.erase_if_no_longer_needed(transfer.payee_id)
    assert Payee.objects.get(pk=transfer.payee_id).card == {"pan": GREEN_PAN}


def test_a_payee_deleted_before_the_hold_is_asked_for_rejects_and_erases(network, fake_ledger):
    transfer = TransferFactory(state=State.CHECKED)
    services.delete_payee(transfer.customer_id, transfer.payee_id)
    assert Payee.objects.get(pk=transfer.payee_id).card is None
    steps.hold_funds(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.state == State.REJECTED and transfer.failure_code == "payee_deleted"
    assert fake_ledger.holds == {}
