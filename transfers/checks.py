"""The quality checks before any money moves, run by the worker on a `received` transfer:

1. the card's funds-transfer attributes, asked again (a card can stop taking push
   payments, or lose fast funds, between the payee's creation and this send);
2. the decisioning rules on transfers (decisioning.transfer_rules: velocity, shadow mode
   included), every verdict recorded on the transfer;
3. sanctions screening of the recipient's name.

Then one short transaction applies what they said: `checked` (the hold is next),
`in_review` (a person decides: screening said review, or an enforced rule said yellow) or
`rejected` (cannot receive, an enforced rule said red, a sanctions hit). The outside
calls are made with no row lock held and no transaction open.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import handoff
from core.models import Trigger
from decisioning.models import Outcome
from decisioning.services import IssuerDecision, evaluate_transfer, result_rows
from decisioning.transfer_rules import TransferFacts

from . import lock_objects
from .models import Delivery, State, Transfer, TransferRuleResult
from .steps import _begin_attempt, _noop, reject

logger = logging.getLogger(__name__)


class SendHistory:
    """The transfers flow's answers to the velocity rules, for one send (this one
    included in every count)."""

    def __init__(self, transfer: Transfer, now):
        self.transfer = transfer
        self.now = now

    def senders_to_card(self, hours: float) -> int:
        since = self.now - timedelta(hours=hours)
        return (Transfer.objects.filter(payee__pan_fingerprint=self.transfer.payee.pan_fingerprint,
                                        created_at__gte=since)
                .values("customer_id").distinct().count())

    def new_cards_by_sender(self, hours: float) -> int:
        """Cards this customer sent to within the window and never before it, in one
        statement: the customer's recent transfers (by the customer's index), each asked
        whether an older one went to the same card."""
        since = self.now - timedelta(hours=hours)
        mine = Transfer.objects.filter(customer_id=self.transfer.customer_id)
        paid_before = mine.filter(created_at__lt=since,
                                  payee__pan_fingerprint=OuterRef("payee__pan_fingerprint"))
        return (mine.filter(created_at__gte=since)
                .exclude(Exists(paid_before))
                .values("payee__pan_fingerprint").distinct().count())


def check_transfer(transfer_id) -> None:
    from .attributes import AttributesClient
    from .screening import ScreeningClient

    transfer = Transfer.objects.select_related("payee").get(pk=transfer_id)
    if transfer.state != State.RECEIVED or not _begin_attempt(transfer_id, State.RECEIVED):
        return _noop(transfer_id, "check_transfer", transfer.state)
    payee = transfer.payee
    card = payee.card or {}
    if payee.is_deleted or not card.get("pan"):
        reject(transfer_id, "payee_deleted", "The payee was deleted.",
                from_states={State.RECEIVED})
        return
    card_now = AttributesClient().inquire(card["pan"])
    if not card_now.push_enabled:
        reject(transfer_id, "card_cannot_receive",
                "This card can no longer receive money transfers.", from_states={State.RECEIVED})
        return
    now = timezone.now()
    decision = evaluate_transfer(TransferFacts(
        transfer_id=transfer.pk, customer_id=transfer.customer_id,
        card_fingerprint=payee.pan_fingerprint, amount=transfer.amount, now=now,
        history=SendHistory(transfer, now)))
    if decision.outcome == Outcome.RED:
        _apply(transfer_id, decision, card_now, screening=None)
        return
    screening = ScreeningClient().screen(name=payee.name, country=payee.country or "KE",
                                         reference=str(transfer.id))
    _apply(transfer_id, decision, card_now, screening=screening)


def _apply(transfer_id, decision: IssuerDecision, card_now, *, screening) -> None:
    from .tasks import hold_funds_task

    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id, with_payee=True)
        if transfer.state != State.RECEIVED:
            return _noop(transfer_id, "check_transfer", transfer.state)
        _record(transfer, decision)
        _refresh_card(transfer, card_now)
        if screening is not None:
            transfer.screening_id = screening.screening_id
            transfer.screening_result = screening.result
        reasons = ",".join(decision.reason_codes)[:64]
        if decision.outcome == Outcome.RED:
            transfer.reject(by=Trigger.WORKER, reason=reasons or "rule_declined",
                            code="transfer_not_allowed", message="This transfer cannot be made.")
        elif screening.result == "hit":
            transfer.reject(by=Trigger.WORKER, reason="sanctions_hit",
                            message="This transfer cannot be made.")
        elif screening.result == "review":
            transfer.send_to_review(by=Trigger.WORKER, reason="screening_review")
        elif decision.outcome == Outcome.YELLOW:
            transfer.send_to_review(by=Trigger.WORKER, reason=reasons or "rule_review")
        else:
            transfer.mark_checked(by=Trigger.WORKER, reason="checks_passed")
            handoff.then(hold_funds_task, transfer.id)
        transfer.save()


def _record(transfer: Transfer, decision: IssuerDecision) -> None:
    TransferRuleResult.objects.bulk_create(
        result_rows(TransferRuleResult, decision, transfer=transfer))


def _refresh_card(transfer: Transfer, card_now) -> None:
    """The card lost fast funds since the quote: the money still goes, on the network's
    standard timing, and the transfer (and so the customer's notice) says so."""
    payee = transfer.payee
    if payee.fast_funds != card_now.fast_funds:
        payee.fast_funds = card_now.fast_funds
        payee.save(update_fields=["fast_funds"])
    if transfer.delivery == Delivery.INSTANT and not card_now.fast_funds:
        transfer.delivery = Delivery.WITHIN_2_BUSINESS_DAYS
        logger.info("card lost fast funds since the quote; delivery within 2 business days",
                    extra={"transfer_id": str(transfer.pk)})
