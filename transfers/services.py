"""Visa Direct use cases the API and admin call: payees, quotes, creating, reading and
cancelling transfers, operations' review and settlement. The one place (with steps.py,
the worker's steps) that opens transactions, locks rows and moves the Transfer's state
machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.errors import ApplicationError, NotFound, StateConflict
from core.models import Trigger
from core.observability import correlation
from core.outside.http import PermanentError, TransientError
from decisioning.transfer_rules import check_limits

from . import cards, lock_objects
from .steps import OUTCOME_UNSETTLED, settle
from .models import (
    COUNTED_STATES,
    Delivery,
    FeeSchedule,
    NetworkOutcome,
    Payee,
    Quote,
    State,
    Transfer,
)

logger = logging.getLogger(__name__)



# --- coded errors -----------------------------------------------------------------------

class CardCannotReceive(ApplicationError):
    code = "card_cannot_receive"
    status_code = 422
    message = "This card cannot receive money transfers."


class AttributesUnavailable(ApplicationError):
    code = "try_again_later"
    status_code = 503
    message = "We could not check this card right now. Please try again later."


class LimitExceeded(ApplicationError):
    code = "limit_exceeded"
    status_code = 422
    message = "This transfer is above your limit."


class QuoteExpired(StateConflict):
    code = "quote_expired"
    message = "This quote has expired; ask for a new one."


class QuoteUsed(StateConflict):
    code = "quote_used"
    message = "This quote has already been used for a transfer."


class PayeeDeleted(StateConflict):
    code = "payee_deleted"
    message = "This payee has been deleted."


class NoFeeSchedule(ApplicationError):
    code = "transfers_unavailable"
    status_code = 503
    message = "Transfers are not available right now."


# --- payees -----------------------------------------------------------------------------

@dataclass(frozen=True)
class NewPayee:
    customer_id: str
    name: str
    pan: str


def create_payee(new: NewPayee) -> Payee:
    """Ask the network what the card can take, at once; keep the payee only if it can
    receive push payments. The PAN is sealed at rest, bound to the payee's row."""
    from core.crypto import vault

    from .attributes import AttributesClient

    try:
        attributes = AttributesClient().inquire(new.pan)
    except TransientError:
        raise AttributesUnavailable() from None
    except PermanentError as exc:
        if exc.code == "invalid_card":
            raise ApplicationError("The card number is not valid.", code="invalid_pan") from None
        raise AttributesUnavailable() from None
    if not attributes.push_enabled:
        raise CardCannotReceive(details={"last4": new.pan[-4:]})
    payee = Payee.objects.create(
        customer_id=new.customer_id, name=new.name, card={"pan": new.pan},
        pan_fingerprint=vault.pan_fingerprint(new.pan), last4=new.pan[-4:],
        push_enabled=True, fast_funds=attributes.fast_funds, country=attributes.country,
        currency=attributes.currency, card_product=attributes.card_product,
        issuer_name=attributes.issuer_name,
    )
    logger.info("payee created", extra={"payee_id": str(payee.id), "last4": payee.last4})
    return payee


def customer_payees(customer_id: str):
    return Payee.objects.filter(customer_id=customer_id, deleted_at__isnull=True)


def get_customer_payee(customer_id: str, payee_id) -> Payee:
    try:
        return customer_payees(customer_id).get(pk=payee_id)
    except (Payee.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("No such payee.") from None


def delete_payee(customer_id: str, payee_id) -> None:
    """The payee leaves the customer's list; its sealed PAN is erased now, or, when a
    transfer is paying it right now (that send needs it), when the last such send ends
    (transfers/cards.py)."""
    with transaction.atomic():
        payee = get_customer_payee(customer_id, payee_id)
        payee = cards.payee_for_update(payee.pk)
        payee.deleted_at = timezone.now()
        if not cards.card_still_needed(payee):
            payee.card = None
        payee.save(update_fields=["deleted_at", "card"])


# --- quotes -----------------------------------------------------------------------------

def current_fee_schedule() -> FeeSchedule:
    schedule = (FeeSchedule.objects.filter(effective_from__lte=timezone.now())
                .order_by("-effective_from", "-version").first())
    if schedule is None:
        raise NoFeeSchedule()
    return schedule


def sent_today(customer_id: str) -> int:
    """Minor units sent or under way in the last 24 hours (the daily limit's use)."""
    since = timezone.now() - timedelta(days=1)
    return Transfer.objects.filter(
        customer_id=customer_id, created_at__gte=since, state__in=COUNTED_STATES,
    ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]


def _refuse_over_limit(customer_id: str, amount: int, kyc_tier: str) -> None:
    breach = check_limits(amount=amount, sent_today=sent_today(customer_id),
                          kyc_tier=kyc_tier, limits_by_tier=settings.TRANSFER_LIMITS)
    if breach is not None:
        raise LimitExceeded(
            f"This transfer is above your {breach.limit.replace('_', ' ')} limit.",
            details={"limit": breach.limit, "limit_value": breach.limit_value,
                     "currency": settings.TRANSFER_CURRENCY, "kyc_tier": breach.kyc_tier,
                     "used_today": breach.used_today})


def create_quote(*, customer_id: str, payee_id, amount: int, kyc_tier: str) -> Quote:
    payee = get_customer_payee(customer_id, payee_id)
    _refuse_over_limit(customer_id, amount, kyc_tier)
    schedule = current_fee_schedule()
    fee = schedule.fee_for(amount)
    return Quote.objects.create(
        customer_id=customer_id, payee=payee, fee_schedule=schedule, amount=amount, fee=fee,
        total=amount + fee, currency=settings.TRANSFER_CURRENCY,
        delivery=Delivery.INSTANT if payee.fast_funds else Delivery.WITHIN_2_BUSINESS_DAYS,
        expires_at=timezone.now() + settings.QUOTE_TTL,
    )


# --- transfers: create, read, cancel ----------------------------------------------------

@dataclass(frozen=True)
class NewTransfer:
    customer_id: str
    quote_id: str
    kyc_tier: str
    sender_name: str


def _serialise_customer(customer_id: str) -> None:
    """Two transfers of one customer at once must not both pass the daily limit: a
    transaction-scoped advisory lock on the customer serialises them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                           [f"transfer:{customer_id}"])


def create_transfer(new: NewTransfer) -> Transfer:
    """Accept a transfer against an unexpired, unused quote of the customer's own; the
    checks are enqueued once it commits. Nothing is held or sent here."""
    from .tasks import check_transfer_task

    with transaction.atomic():
        _serialise_customer(new.customer_id)
        try:
            quote = (Quote.objects.select_for_update().select_related("payee")
                     .get(pk=new.quote_id, customer_id=new.customer_id))
        except (Quote.DoesNotExist, ValueError, DjangoValidationError):
            raise NotFound("No such quote.") from None
        if quote.used:
            raise QuoteUsed(details={"quote_id": str(quote.id)})
        if quote.is_expired:
            raise QuoteExpired(details={"quote_id": str(quote.id),
                                        "expired_at": quote.expires_at.isoformat()})
        if quote.payee.is_deleted:
            raise PayeeDeleted(details={"payee_id": str(quote.payee_id)})
        _refuse_over_limit(new.customer_id, quote.amount, new.kyc_tier)
        Quote.objects.filter(pk=quote.pk).update(used=True)
        transfer = Transfer.objects.create(
            customer_id=new.customer_id, quote=quote, payee=quote.payee, amount=quote.amount,
            fee=quote.fee, total=quote.total, currency=quote.currency, delivery=quote.delivery,
            kyc_tier=new.kyc_tier, sender_name=new.sender_name[:60],
            due_at=timezone.now() + settings.TRANSFER_STUCK_AFTER[State.RECEIVED],
            correlation_id=correlation.get(),
        )
        check_transfer_task.delay_on_commit(str(transfer.id))
    logger.info("transfer received", extra={"transfer_id": str(transfer.id),
                                            "amount": transfer.amount})
    return transfer


def customer_transfers(customer_id: str):
    return Transfer.objects.filter(customer_id=customer_id).select_related("payee")


def get_customer_transfer(customer_id: str, transfer_id) -> Transfer:
    try:
        return customer_transfers(customer_id).get(pk=transfer_id)
    except (Transfer.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("No such transfer.") from None


def cancel_transfer(customer_id: str, transfer_id, *, by: str = Trigger.API,
                    actor=None) -> Transfer:
    """Withdraw a transfer before funds are held (once the hold is being placed, the
    money is moving and only the network's answer ends the transfer)."""
    with transaction.atomic():
        transfer = get_customer_transfer(customer_id, transfer_id)
        transfer = lock_objects.transfer_for_update(transfer.pk)
        if transfer.hold_requested_at is not None:
            raise StateConflict("Funds are being held for this transfer; it can no longer "
                                "be cancelled.", code="cancel_not_allowed",
                                details={"state": transfer.state})
        try:
            transfer.cancel(by=by, actor=actor)
        except TransitionNotAllowed:
            raise StateConflict(f"A transfer in state '{transfer.state}' cannot be cancelled.",
                                code="cancel_not_allowed",
                                details={"state": transfer.state}) from None
        transfer.save()
        cards.erase_if_no_longer_needed(transfer.payee_id)
    return transfer


# --- operations -------------------------------------------------------------------------

def approve_review(transfer_id, *, actor, reason: str) -> Transfer:
    from .tasks import hold_funds_task

    if not reason.strip():
        raise ApplicationError("Say why the transfer is approved.", code="reason_required")
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        try:
            transfer.mark_checked(by=Trigger.ADMIN, actor=actor, reason=reason.strip()[:255])
        except TransitionNotAllowed:
            raise StateConflict(f"A transfer in state '{transfer.state}' is not in review.",
                                code="not_in_review") from None
        if transfer.state != State.CHECKED:
            raise StateConflict("Not in review.", code="not_in_review")
        transfer.save()
        hold_funds_task.delay_on_commit(str(transfer.id))
    return transfer


def reject_review(transfer_id, *, actor, reason: str) -> Transfer:
    if not reason.strip():
        raise ApplicationError("Say why the transfer is rejected.", code="reason_required")
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.IN_REVIEW:
            raise StateConflict(f"A transfer in state '{transfer.state}' is not in review.",
                                code="not_in_review")
        transfer.reject(by=Trigger.ADMIN, actor=actor, reason=reason.strip()[:255],
                        code="review_rejected", message="This transfer cannot be made.")
        transfer.save()
        cards.erase_if_no_longer_needed(transfer.payee_id)
    return transfer


def resolve_from_network(transfer_id, *, actor) -> Transfer:
    """Operations settle a transfer that needs attention, from the network's own answer
    (asked now, under the transfer's code); a pending or missing answer settles nothing."""
    from .payouts import PayoutsClient

    transfer = Transfer.objects.get(pk=transfer_id)
    if transfer.state != State.NEEDS_ATTENTION:
        raise StateConflict(f"A transfer in state '{transfer.state}' does not need attention.",
                            code="not_needing_attention")
    if transfer.network_outcome in OUTCOME_UNSETTLED:
        try:
            status = PayoutsClient().status(str(transfer.id))
        except (TransientError, PermanentError) as exc:
            raise StateConflict(f"The network could not be asked: {exc.code}.",
                                code="network_unavailable") from None
        if status is None:
            status = _send_again_under_the_same_code(transfer)
        if status.outcome == NetworkOutcome.PENDING:
            raise StateConflict("The network has no final answer for this transfer yet.",
                                code="network_outcome_pending", details={"found": True})
        with transaction.atomic():
            locked = lock_objects.transfer_for_update(transfer_id)
            locked.payout_id = status.payout_id or locked.payout_id
            locked.network_outcome = status.outcome
            locked.network_response_code = status.response_code
            locked.approval_code = status.approval_code
            locked.save()
    if not settle(transfer_id, by=Trigger.ADMIN, actor=actor):
        raise StateConflict("The ledger could not settle the hold; try again.",
                            code="settlement_failed")
    return Transfer.objects.get(pk=transfer_id)


def _send_again_under_the_same_code(transfer: Transfer):
    """The network has no payout under this transfer's code (confirmed over the window
    since the send): the OCT is sent again under that same code, which is the payout's
    idempotency key, so it pays at most once. A refusal means nothing was paid. Never a
    release on "not found" alone: a payout that might land later must not be unfunded."""
    from .payouts import PayoutStatus, PayoutsClient
    from .steps import _not_found_wait, _oct_for

    if _not_found_wait(transfer) > 0:
        raise StateConflict("The network does not show this payout yet; ask again shortly.",
                            code="network_outcome_pending", details={"found": False})
    transfer = Transfer.objects.select_related("payee").get(pk=transfer.pk)
    try:
        oct_ = _oct_for(transfer)
    except PermanentError:
        raise StateConflict("The payee's card is no longer held; settle with the network's "
                            "support.", code="payee_card_erased") from None
    try:
        return PayoutsClient().send(oct_)
    except TransientError as exc:
        raise StateConflict(f"The network did not answer the send: {exc.code}; ask again "
                            "shortly (it is the same payout).",
                            code="network_unavailable") from None
    except PermanentError as exc:
        logger.warning("the network refused the OCT sent again; nothing was paid",
                       extra={"transfer_id": str(transfer.pk), "error_code": exc.code})
        return PayoutStatus(outcome=NetworkOutcome.DECLINED, reason=exc.code)

