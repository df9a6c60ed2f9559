"""A transfer's end tells its sender once: completed, declined and rejected each add one
notification to the outbox in the transaction of the move; a repeat adds none."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django_fsm.signals import post_transition

from core.models import Trigger
from notifications.models import Notification, Status, TemplateKey
from notifications.templates import render
from tests.notifications.conftest import enqueued_dispatches
from transfers import steps
from transfers.customer_codes import rejection_reason
from transfers.models import Delivery, NetworkOutcome, State, Transfer

from .factories import GREEN_PAN, PayeeFactory, QuoteFactory, TransferFactory

pytestmark = pytest.mark.django_db


def _move(transfer, name, **kwargs):
    with transaction.atomic():
        getattr(transfer, name)(by=Trigger.WORKER, **kwargs)
        transfer.save()


@pytest.mark.parametrize("source,name,kwargs,template_key", [
    (State.SUBMITTED, "complete", {}, TemplateKey.TRANSFER_COMPLETED),
    (State.NEEDS_ATTENTION, "complete", {}, TemplateKey.TRANSFER_COMPLETED),
    (State.SUBMITTED, "decline", {"reason": "network_declined:05"}, TemplateKey.TRANSFER_DECLINED),
    (State.FUNDS_HELD, "decline", {"reason": "payout_refused:invalid_card"},
     TemplateKey.TRANSFER_DECLINED),
    (State.CHECKED, "reject", {"reason": "insufficient_funds"}, TemplateKey.TRANSFER_REJECTED),
    (State.RECEIVED, "reject", {"reason": "sanctions_hit"}, TemplateKey.TRANSFER_REJECTED),
])
def test_each_end_of_a_transfer_queues_exactly_one_notification_of_its_kind(
        source, name, kwargs, template_key):
    transfer = TransferFactory(state=source)
    _move(transfer, name, **kwargs)
    [notification] = Notification.objects.filter(object_id=transfer.pk)
    assert notification.template_key == template_key
    assert notification.event == template_key
    assert notification.customer_id == transfer.customer_id
    assert notification.status == Status.PENDING


@pytest.mark.parametrize("source,name", [
    (State.RECEIVED, "mark_checked"), (State.RECEIVED, "send_to_review"),
    (State.CHECKED, "mark_funds_held"), (State.FUNDS_HELD, "mark_submitted"),
    (State.SUBMITTED, "need_attention"), (State.RECEIVED, "cancel"),
])
def test_moves_that_do_not_end_in_completed_declined_or_rejected_queue_nothing(source, name):
    transfer = TransferFactory(state=source)
    _move(transfer, name)
    assert not Notification.objects.filter(object_id=transfer.pk).exists()


def test_the_same_signal_fired_twice_queues_one_notification_and_one_dispatch(
        django_capture_on_commit_callbacks):
    transfer = TransferFactory(state=State.SUBMITTED)
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        transfer.complete(by=Trigger.WORKER)
        transfer.save()
        post_transition.send(sender=Transfer, instance=transfer, name="complete",
                             source=State.SUBMITTED, target=State.COMPLETED,
                             method_kwargs={"by": Trigger.WORKER})
    assert Notification.objects.filter(object_id=transfer.pk).count() == 1
    assert len(enqueued_dispatches(callbacks)) == 1


def test_a_redelivered_settlement_queues_no_second_notification(fake_ledger, no_tasks):
    hold = fake_ledger.client()().hold(transfer_id="t", customer_id="cust_test",
                                       amount=100_000, fee=0, currency="KES")
    transfer = TransferFactory(state=State.SUBMITTED, hold_id=hold.hold_id,
                               network_outcome=NetworkOutcome.APPROVED)
    assert steps.settle(transfer.pk) is True
    assert steps.settle(transfer.pk) is False  # the task again: a no-op
    assert Notification.objects.filter(object_id=transfer.pk).count() == 1


def test_a_rolled_back_end_notifies_nobody():
    transfer = TransferFactory(state=State.SUBMITTED)
    with pytest.raises(RuntimeError), transaction.atomic():
        transfer.complete(by=Trigger.WORKER)
        transfer.save()
        raise RuntimeError("the service failed after the transition")
    assert not Notification.objects.filter(object_id=transfer.pk).exists()


def test_the_message_names_money_in_minor_units_payee_and_last_four_and_never_the_pan():
    payee = PayeeFactory(name="JANE WANJIKU")
    transfer = TransferFactory(state=State.SUBMITTED, quote=QuoteFactory(
        payee=payee, amount=150_000, used=True, delivery=Delivery.WITHIN_2_BUSINESS_DAYS))
    _move(transfer, "complete")
    notification = Notification.objects.get(object_id=transfer.pk)
    assert notification.context == {
        "amount": 150_000, "fee": transfer.fee, "total": transfer.total, "currency": "KES",
        "delivery": "within_2_business_days", "payee_name": "JANE WANJIKU",
        "payee_last4": GREEN_PAN[-4:]}
    assert GREEN_PAN not in json.dumps(notification.context)
    body = render(notification.template_key, "en", notification.context).body
    assert "KES 1,500.00" in body and "within 2 business days" in body
    assert GREEN_PAN not in body


@pytest.mark.parametrize("failure_code,reason", [
    ("insufficient_funds", "insufficient_funds"),
    ("card_cannot_receive", "card_cannot_receive"),
    ("limit_exceeded", "limit_exceeded"),
    ("payee_deleted", "payee_deleted"),
    ("sanctions_hit", "cannot_be_made"),
    ("review_rejected", "cannot_be_made"),
    ("transfer_not_allowed", "cannot_be_made"),
    ("screening_unavailable", "try_again"),
    ("redrive_limit_reached", "try_again"),
    ("mpesa_timeout", "try_again"),
])
def test_a_rejection_reads_its_reason_in_customer_words(failure_code, reason):
    assert rejection_reason(failure_code) == reason
    transfer = TransferFactory(state=State.RECEIVED)
    _move(transfer, "reject", reason=failure_code)
    context = Notification.objects.get(object_id=transfer.pk).context
    assert context["reason"] == reason
    assert failure_code not in render(TemplateKey.TRANSFER_REJECTED, "en", context).body
