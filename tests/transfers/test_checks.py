"""The checks before money moves: the card's attributes asked again at send time, the
decisioning rules on transfers (velocity, shadow and enforced), then screening."""

from __future__ import annotations

import pytest

from decisioning.models import DecisionRule, Mode
from transfers import checks
from transfers.models import Delivery, Payee, State, Transfer, TransferRuleResult

from .factories import GREEN_PAN, PayeeFactory, QuoteFactory, TransferFactory

pytestmark = pytest.mark.django_db

OTHER_PANS = ["4000000000000101", "4000000000000119", "4000000000000127",
              "4000000000000135", "4000000000000143"]


def _check(transfer, no_tasks, capture):
    with capture(execute=True):
        checks.check_transfer(transfer.pk)
    return Transfer.objects.get(pk=transfer.pk)


def _enforce(key, **params):
    rule = DecisionRule.objects.get(key=key)
    rule.mode = Mode.ENFORCE
    rule.params = {**rule.params, **params}
    rule.save()


def test_a_card_that_stopped_taking_push_payments_is_rejected_before_screening(
        network, fake_ledger, no_tasks, django_capture_on_commit_callbacks):
    transfer = TransferFactory()
    network.cannot_receive.add(GREEN_PAN)
    transfer = _check(transfer, no_tasks, django_capture_on_commit_callbacks)
    assert transfer.state == State.REJECTED and transfer.failure_code == "card_cannot_receive"
    assert network.screenings == 0 and no_tasks == [] and fake_ledger.holds == {}


def test_a_card_that_lost_fast_funds_is_still_paid_on_standard_timing(
        network, no_tasks, django_capture_on_commit_callbacks):
    payee = PayeeFactory(card={"pan": "4000000000000077"})  # 0077: no fast funds now
    transfer = TransferFactory(quote=QuoteFactory(payee=payee, delivery=Delivery.INSTANT))
    transfer = _check(transfer, no_tasks, django_capture_on_commit_callbacks)
    assert transfer.state == State.CHECKED
    assert transfer.delivery == Delivery.WITHIN_2_BUSINESS_DAYS
    assert Payee.objects.get(pk=payee.pk).fast_funds is False
    assert no_tasks == [("hold_funds_task", str(transfer.pk))]


def test_every_transfer_rule_verdict_is_recorded_and_shadow_rules_decide_nothing(
        network, no_tasks, django_capture_on_commit_callbacks):
    # One card paid by seven senders: over the senders-per-card rule's max of 5.
    card = {"pan": GREEN_PAN}
    for n in range(6):
        TransferFactory(quote=QuoteFactory(customer_id=f"cust_{n}",
                                           payee=PayeeFactory(customer_id=f"cust_{n}", card=card)))
    transfer = TransferFactory()
    transfer = _check(transfer, no_tasks, django_capture_on_commit_callbacks)
    assert transfer.state == State.CHECKED  # the rule is in shadow mode
    results = {r.rule_key: r for r in TransferRuleResult.objects.filter(transfer=transfer)}
    assert set(results) == {"transfer-senders-per-card", "transfer-new-cards-per-sender"}
    fired = results["transfer-senders-per-card"]
    assert (fired.mode, fired.outcome, fired.reason_code) == ("shadow", "yellow", "card_velocity")
    assert fired.inputs["senders"] == 7
    assert results["transfer-new-cards-per-sender"].outcome == "green"


def test_an_enforced_card_velocity_rule_sends_the_transfer_to_review(
        network, no_tasks, django_capture_on_commit_callbacks):
    _enforce("transfer-senders-per-card", max=1)
    other = PayeeFactory(customer_id="cust_other")
    TransferFactory(quote=QuoteFactory(customer_id="cust_other", payee=other))
    transfer = _check(TransferFactory(), no_tasks, django_capture_on_commit_callbacks)
    assert transfer.state == State.IN_REVIEW and no_tasks == []
    assert network.screenings == 1


def test_an_enforced_red_sender_velocity_rule_rejects_before_screening(
        network, fake_ledger, no_tasks, django_capture_on_commit_callbacks):
    _enforce("transfer-new-cards-per-sender", max=2, outcome="red")
    for pan in OTHER_PANS[:2]:
        TransferFactory(quote=QuoteFactory(payee=PayeeFactory(card={"pan": pan})))
    transfer = _check(TransferFactory(), no_tasks, django_capture_on_commit_callbacks)
    assert transfer.state == State.REJECTED and transfer.failure_code == "transfer_not_allowed"
    assert network.screenings == 0 and fake_ledger.holds == {}
    result = TransferRuleResult.objects.get(transfer=transfer,
                                            rule_key="transfer-new-cards-per-sender")
    assert result.inputs["new_cards"] == 3 and result.reason_code == "sender_velocity"


def test_cards_paid_before_the_window_are_not_new(network):
    from datetime import timedelta

    from django.utils import timezone

    old = TransferFactory(quote=QuoteFactory(payee=PayeeFactory(card={"pan": OTHER_PANS[0]})))
    Transfer.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    again = TransferFactory(quote=QuoteFactory(payee=PayeeFactory(card={"pan": OTHER_PANS[0]})))
    history = checks.SendHistory(Transfer.objects.select_related("payee").get(pk=again.pk),
                                 timezone.now())
    assert history.new_cards_by_sender(24) == 0
    TransferFactory(quote=QuoteFactory(payee=PayeeFactory(card={"pan": OTHER_PANS[1]})))
    assert history.new_cards_by_sender(24) == 1


def test_a_send_is_judged_by_the_transfer_rules_only():
    """Provisioning's rules (and theirs by it) never run on the other flow's facts."""
    from django.utils import timezone

    from decisioning.services import evaluate_transfer
    from decisioning.transfer_rules import TRANSFER_KINDS, TransferFacts

    transfer = Transfer.objects.select_related("payee").get(pk=TransferFactory().pk)
    now = timezone.now()
    decision = evaluate_transfer(TransferFacts(
        transfer_id=transfer.pk, customer_id=transfer.customer_id,
        card_fingerprint=transfer.payee.pan_fingerprint, amount=transfer.amount, now=now,
        history=checks.SendHistory(transfer, now)))
    assert DecisionRule.objects.exclude(kind__in=list(TRANSFER_KINDS)).exists()
    assert {item.rule.kind for item in decision.results} == set(TRANSFER_KINDS)
    assert all(item.verdict.reason_code != "rule_error" for item in decision.results)
