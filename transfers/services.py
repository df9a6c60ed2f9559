"""Visa Direct use cases: the one place that opens transactions, locks rows and moves the
Transfer's state machine.

The money rule: amount + fee are held on the customer's M-Pesa balance before the OCT is
sent; the hold is captured only when the network says the card was paid, released only
when it says it was not, exactly once either way (the ledger keys `<id>:capture` and
`<id>:release` are derived from the transfer). An unknown outcome (a timeout, a lost
answer, a crash between sending and recording) is never guessed: the worker asks the
network for the OCT's status under the same code (the transfer id), and only that answer
moves the transfer; after TRANSFER_INQUIRY_BUDGET inquiries it needs attention.

Outside calls are made with no row lock held and no transaction open; their answer is
applied afterwards in a short transaction that re-checks the state.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from core.errors import ApplicationError, NotFound, StateConflict
from core.models import Trigger
from core.observability import correlation
from core.outside.http import PermanentError, TransientError
from decisioning.transfer_rules import check_limits

from . import lock_objects
from .models import (
    COUNTED_STATES,
    MOVING_STATES,
    Delivery,
    FeeSchedule,
    NetworkOutcome,
    Payee,
    Quote,
    State,
    Transfer,
)

logger = logging.getLogger(__name__)

OUTCOME_UNSETTLED = (NetworkOutcome.UNKNOWN, NetworkOutcome.PENDING)


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
    """The payee leaves the customer's list; its sealed PAN is erased unless a transfer is
    paying it right now (that send needs it; it is erased when the payee is next deleted
    or by the transfer's end in a later version: see docs/transfers.md)."""
    with transaction.atomic():
        payee = get_customer_payee(customer_id, payee_id)
        payee = Payee.objects.select_for_update().get(pk=payee.pk)
        payee.deleted_at = timezone.now()
        paying = payee.transfers.filter(state__in=[State.FUNDS_HELD, State.SUBMITTED]).exists()
        if not paying:
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
    return transfer


# --- worker steps -----------------------------------------------------------------------

def _noop(transfer_id, step: str, state: str) -> None:
    logger.info("no-op: transfer is no longer waiting for this step",
                extra={"transfer_id": str(transfer_id), "step": step, "state": state})


def _begin_attempt(transfer_id, state: str, **also) -> bool:
    """Count one outside attempt on the row; False if the transfer has left `state`.
    The count lives on the row, so a redelivered message cannot retry forever."""
    return Transfer.objects.filter(pk=transfer_id, state=state).update(
        attempts=F("attempts") + 1, **also) == 1


def _reject(transfer_id, code: str, message: str, *, from_states, by=Trigger.WORKER) -> bool:
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state not in from_states:
            _noop(transfer_id, f"reject:{code}", transfer.state)
            return False
        transfer.reject(by=by, reason=code, message=message)
        transfer.save()
    logger.warning("transfer rejected", extra={"transfer_id": str(transfer_id),
                                               "failure_code": code})
    return True


def check_transfer(transfer_id) -> None:
    """Screen the recipient: clear → checked (the hold is next), review → a person decides,
    hit → rejected. A deleted payee is rejected before anything is asked."""
    from .screening import ScreeningClient
    from .tasks import hold_funds_task

    transfer = Transfer.objects.select_related("payee").get(pk=transfer_id)
    if transfer.state != State.RECEIVED or not _begin_attempt(transfer_id, State.RECEIVED):
        return _noop(transfer_id, "check_transfer", transfer.state)
    payee = transfer.payee
    if payee.is_deleted:
        _reject(transfer_id, "payee_deleted", "The payee was deleted.",
                from_states={State.RECEIVED})
        return
    screening = ScreeningClient().screen(name=payee.name, country=payee.country or "KE",
                                         reference=str(transfer.id))
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.RECEIVED:
            return _noop(transfer_id, "check_transfer", transfer.state)
        transfer.screening_id = screening.screening_id
        transfer.screening_result = screening.result
        if screening.result == "clear":
            transfer.mark_checked(by=Trigger.WORKER, reason="screening_clear")
            transfer.save()
            hold_funds_task.delay_on_commit(str(transfer.id))
        elif screening.result == "review":
            transfer.send_to_review(by=Trigger.WORKER, reason="screening_review")
            transfer.save()
        else:
            transfer.reject(by=Trigger.WORKER, reason="sanctions_hit",
                            message="This transfer cannot be made.")
            transfer.save()


def hold_funds(transfer_id) -> None:
    """Hold amount + fee on the customer's balance (key `<id>:hold`: a repeat replays the
    same hold), then send the OCT. Insufficient funds rejects; nothing is held then."""
    from .ledger import InsufficientFunds, LedgerClient
    from .tasks import send_payout_task

    transfer = Transfer.objects.select_related("payee").get(pk=transfer_id)
    if transfer.state != State.CHECKED:
        return _noop(transfer_id, "hold_funds", transfer.state)
    if transfer.payee.is_deleted and transfer.hold_requested_at is None:
        _reject(transfer_id, "payee_deleted", "The payee was deleted.",
                from_states={State.CHECKED})
        return
    # From here on the customer can no longer cancel: a hold may be in place.
    if not _begin_attempt(transfer_id, State.CHECKED,
                          hold_requested_at=Coalesce(F("hold_requested_at"), timezone.now())):
        return _noop(transfer_id, "hold_funds", "moved")
    try:
        hold = LedgerClient().hold(transfer_id=str(transfer.id), customer_id=transfer.customer_id,
                                   amount=transfer.amount, fee=transfer.fee,
                                   currency=transfer.currency)
    except InsufficientFunds:
        _reject(transfer_id, "insufficient_funds",
                "Your M-Pesa balance cannot cover this transfer and its fee.",
                from_states={State.CHECKED})
        return
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.CHECKED:
            return _noop(transfer_id, "hold_funds", transfer.state)
        transfer.mark_funds_held(by=Trigger.WORKER, hold_id=hold.hold_id)
        transfer.save()
        send_payout_task.delay_on_commit(str(transfer.id))


def give_up_hold(transfer_id, code: str, *, by=Trigger.WORKER) -> bool:
    """The ledger kept failing before a hold was recorded: release whatever hold it may
    have placed under this transfer (a lost answer), then reject. If the ledger cannot
    even be asked, the transfer stays `checked` for beat."""
    from .ledger import LedgerClient

    transfer = Transfer.objects.get(pk=transfer_id)
    if transfer.state != State.CHECKED:
        return False
    if transfer.hold_requested_at is not None:
        try:
            client = LedgerClient()
            for hold in client.holds_for(str(transfer.id)):
                if hold.status == "held":
                    client.release(transfer_id=str(transfer.id), hold_id=hold.hold_id)
        except (TransientError, PermanentError) as exc:
            logger.warning("could not release a possible hold; beat will try again",
                           extra={"transfer_id": str(transfer_id), "error_code": exc.code})
            return False
    return _reject(transfer_id, code, "M-Pesa could not hold the funds. Please try again later.",
                   from_states={State.CHECKED}, by=by)


def _oct_for(transfer: Transfer):
    from .payouts import Oct

    card = transfer.payee.card or {}
    if not card.get("pan"):
        raise PermanentError("payee_card_erased", "the payee's card is no longer held")
    return Oct(transfer_id=str(transfer.id), amount=transfer.amount, currency=transfer.currency,
               sender_name=transfer.sender_name or "M-PESA CUSTOMER",
               sender_reference=transfer.customer_id, recipient_name=transfer.payee.name,
               recipient_country=transfer.payee.country or "KE", pan=card["pan"])


def send_payout(transfer_id) -> None:
    """Send the OCT once. If this transfer's OCT may already have gone out (a send whose
    answer was never recorded), it is not sent again blindly: its status is asked."""
    from .payouts import PayoutsClient

    transfer = Transfer.objects.select_related("payee").get(pk=transfer_id)
    if transfer.state != State.FUNDS_HELD:
        return _noop(transfer_id, "send_payout", transfer.state)
    if transfer.payout_sent_at is not None:
        record_unknown_outcome(transfer_id, "sent_but_not_recorded")
        return
    # Marked as sent before the call and committed: a crash during the call leaves a row
    # that says "may have been sent", which beat resolves by inquiry, never by resending.
    if Transfer.objects.filter(pk=transfer_id, state=State.FUNDS_HELD,
                               payout_sent_at__isnull=True).update(
            payout_sent_at=timezone.now(), attempts=F("attempts") + 1) != 1:
        return _noop(transfer_id, "send_payout", "another worker sent it")
    _send_and_record(transfer, PayoutsClient())


def _send_and_record(transfer: Transfer, client) -> None:
    try:
        status = client.send(_oct_for(transfer))
    except TransientError as exc:
        record_unknown_outcome(transfer.pk, exc.code)
        return
    except PermanentError as exc:
        # The network refused the send outright: nothing was paid. Release, then decline.
        record_refusal(transfer.pk, exc.code)
        return
    record_payout_status(transfer.pk, status)


def _schedule_inquiry(transfer_id, delay: float | None = None) -> None:
    from .tasks import inquire_payout_task

    countdown = settings.TRANSFER_INQUIRY_DELAY_SECONDS if delay is None else delay
    transfer_id = str(transfer_id)
    transaction.on_commit(lambda: inquire_payout_task.apply_async((transfer_id,),
                                                                  countdown=countdown))


def _schedule_settlement(transfer_id) -> None:
    from .tasks import settle_transfer_task

    settle_transfer_task.delay_on_commit(str(transfer_id))


def record_unknown_outcome(transfer_id, cause: str) -> None:
    """The OCT may or may not have been paid: submitted, outcome unknown, ask later."""
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state == State.FUNDS_HELD:
            transfer.mark_submitted(by=Trigger.WORKER, reason=f"outcome_unknown:{cause}"[:64])
        elif transfer.state != State.SUBMITTED:
            return _noop(transfer_id, "record_unknown_outcome", transfer.state)
        if transfer.network_outcome in (NetworkOutcome.APPROVED, NetworkOutcome.DECLINED):
            return  # already known; never overwritten by a later doubt
        transfer.network_outcome = NetworkOutcome.UNKNOWN
        transfer.save()
        _schedule_inquiry(transfer_id)
    logger.warning("payout outcome unknown; asking the network",
                   extra={"transfer_id": str(transfer_id), "cause": cause})


def record_refusal(transfer_id, code: str) -> None:
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state not in (State.FUNDS_HELD, State.SUBMITTED):
            return _noop(transfer_id, "record_refusal", transfer.state)
        transfer.network_outcome = NetworkOutcome.DECLINED
        transfer.failure_code = f"payout_refused:{code}"[:64]
        transfer.save()
        _schedule_settlement(transfer_id)


def record_payout_status(transfer_id, status, *, by=Trigger.WORKER) -> None:
    """Record what the network said of the OCT; settle when final, ask again when pending."""
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state == State.FUNDS_HELD:
            transfer.mark_submitted(by=by, reason="oct_answered")
        elif transfer.state != State.SUBMITTED:
            return _noop(transfer_id, "record_payout_status", transfer.state)
        if transfer.network_outcome in (NetworkOutcome.APPROVED, NetworkOutcome.DECLINED):
            return _noop(transfer_id, "record_payout_status", "outcome already known")
        transfer.payout_id = status.payout_id or transfer.payout_id
        transfer.network_response_code = status.response_code
        transfer.approval_code = status.approval_code
        transfer.network_outcome = status.outcome
        if status.outcome == NetworkOutcome.DECLINED:
            transfer.failure_code = f"network_declined:{status.reason or status.response_code}"[:64]
        transfer.save()
        if status.outcome == NetworkOutcome.PENDING:
            _schedule_inquiry(transfer_id)
        else:
            _schedule_settlement(transfer_id)


def inquire_payout(transfer_id) -> None:
    """Ask the network where the OCT stands, under its code. Not found means the network
    never took it: it is sent again under the same code. Each inquiry counts against the
    budget; when it is spent the transfer needs attention."""
    from .payouts import PayoutsClient

    transfer = Transfer.objects.select_related("payee").get(pk=transfer_id)
    if transfer.state != State.SUBMITTED or transfer.network_outcome not in OUTCOME_UNSETTLED:
        if transfer.state == State.SUBMITTED:
            _schedule_settlement_now(transfer_id)
        return _noop(transfer_id, "inquire_payout", transfer.state)
    if transfer.inquiries >= settings.TRANSFER_INQUIRY_BUDGET:
        mark_needs_attention(transfer_id)
        return
    if Transfer.objects.filter(pk=transfer_id, state=State.SUBMITTED).update(
            inquiries=F("inquiries") + 1) != 1:
        return _noop(transfer_id, "inquire_payout", "moved")
    client = PayoutsClient()
    try:
        status = client.status(str(transfer.id))
    except (TransientError, PermanentError) as exc:
        logger.warning("payout status inquiry failed; asking again later",
                       extra={"transfer_id": str(transfer_id), "error_code": exc.code})
        with transaction.atomic():
            _schedule_inquiry(transfer_id, retry_delay(transfer.inquiries + 1))
        return
    if status is None:
        logger.info("the network never took this OCT; sending it again under the same code",
                    extra={"transfer_id": str(transfer_id)})
        _send_and_record(transfer, client)
        return
    record_payout_status(transfer_id, status)


def _schedule_settlement_now(transfer_id) -> None:
    with transaction.atomic():
        _schedule_settlement(transfer_id)


def mark_needs_attention(transfer_id, *, by=Trigger.WORKER) -> bool:
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.SUBMITTED or \
                transfer.network_outcome not in OUTCOME_UNSETTLED:
            return False
        transfer.need_attention(by=by, reason="inquiry_budget_spent")
        transfer.save()
    logger.error("transfer needs attention: outcome unknown after the inquiry budget",
                 extra={"transfer_id": str(transfer_id)})
    return True


def settle(transfer_id, *, by=Trigger.WORKER, actor=None) -> bool:
    """Capture the hold when the network said paid, release it when it said not paid,
    then end the transfer. Both ledger calls are keyed by the transfer, so a repeat (a
    redelivered task, a second worker) replays the first settlement and moves nothing."""
    from .ledger import HoldAlreadySettled, LedgerClient

    transfer = Transfer.objects.get(pk=transfer_id)
    if transfer.state not in (State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION):
        _noop(transfer_id, "settle", transfer.state)
        return False
    outcome = transfer.network_outcome
    if outcome not in (NetworkOutcome.APPROVED, NetworkOutcome.DECLINED):
        _noop(transfer_id, "settle", f"outcome {outcome or 'none'}")
        return False
    _begin_attempt(transfer_id, transfer.state)
    ledger = LedgerClient()
    try:
        if outcome == NetworkOutcome.APPROVED:
            ledger.capture(transfer_id=str(transfer.id), hold_id=transfer.hold_id)
        else:
            ledger.release(transfer_id=str(transfer.id), hold_id=transfer.hold_id)
    except HoldAlreadySettled as exc:
        # The hold went the other way: money and network disagree. A person must look.
        logger.error("hold already settled the other way",
                     extra={"transfer_id": str(transfer_id), "error_code": exc.code})
        with transaction.atomic():
            locked = lock_objects.transfer_for_update(transfer_id)
            if locked.state == State.SUBMITTED:
                locked.need_attention(by=by, reason=f"ledger_{exc.code}")
                locked.save()
        return False
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state not in (State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION):
            _noop(transfer_id, "settle", transfer.state)
            return False
        if outcome == NetworkOutcome.APPROVED:
            transfer.complete(by=by, actor=actor)
        else:
            code = transfer.failure_code or "network_declined"
            transfer.decline(by=by, actor=actor, reason=code)
        transfer.save()
    return True


# --- failures and retries ---------------------------------------------------------------

def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter."""
    ceiling = min(settings.OUTSIDE_RETRY_MAX_SECONDS,
                  settings.OUTSIDE_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0)))
    return random.uniform(settings.OUTSIDE_RETRY_BASE_SECONDS / 2, ceiling)


def handle_transient_failure(transfer_id, error: TransientError) -> float | None:
    """Seconds until the next try, or None once the row's attempts are spent (then a
    transfer that has not touched money is rejected; one that has waits for beat)."""
    row = Transfer.objects.filter(pk=transfer_id).values_list("attempts", "state").first()
    if row is None:
        return None
    attempts, state = row
    if attempts < settings.OUTSIDE_MAX_ATTEMPTS:
        return retry_delay(attempts)
    if state == State.RECEIVED:
        _reject(transfer_id, error.code, "We could not check this transfer. Please try again.",
                from_states={State.RECEIVED})
    elif state == State.CHECKED:
        give_up_hold(transfer_id, error.code)
    return None


def handle_permanent_failure(transfer_id, error: PermanentError) -> None:
    row = Transfer.objects.filter(pk=transfer_id).values_list("state", flat=True).first()
    if row == State.RECEIVED:
        _reject(transfer_id, error.code, "This transfer could not be checked.",
                from_states={State.RECEIVED})
    elif row == State.CHECKED:
        give_up_hold(transfer_id, error.code)
    else:
        logger.error("permanent error with money in flight; beat will re-drive",
                     extra={"transfer_id": str(transfer_id), "error_code": error.code})


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
        if status is None or status.outcome == NetworkOutcome.PENDING:
            raise StateConflict("The network has no final answer for this transfer yet.",
                                code="network_outcome_pending",
                                details={"found": status is not None})
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


# --- beat: stuck transfers --------------------------------------------------------------

def redrive_due_transfers(limit: int | None = None) -> dict[str, int]:
    """Move on every transfer that should be moving and is not (a lost message, a dead
    worker). Claims due rows with SKIP LOCKED and pushes their due time forward in the same
    transaction, so two sweeps never claim one row; follow-ups are enqueued after commit.

    A transfer that has not touched money is rejected after MAX_REDRIVES; one whose money
    is held is never abandoned (the inquiry budget ends an unknown outcome instead)."""
    from . import tasks

    limit = limit or settings.RECONCILE_BATCH_SIZE
    now = timezone.now()
    counts = {"redriven": 0, "given_up": 0}
    with transaction.atomic():
        for transfer in lock_objects.due_transfers_for_update(MOVING_STATES, now, limit):
            if transfer.redrives >= settings.MAX_REDRIVES and transfer.state in (
                    State.RECEIVED, State.CHECKED):
                task = (tasks.give_up_hold_task if transfer.state == State.CHECKED
                        else tasks.reject_stuck_transfer_task)
                counts["given_up"] += 1
            elif transfer.state == State.SUBMITTED:
                task = (tasks.settle_transfer_task if transfer.network_outcome in (
                    NetworkOutcome.APPROVED, NetworkOutcome.DECLINED)
                    else tasks.inquire_payout_task)
                counts["redriven"] += 1
            else:
                task = {State.RECEIVED: tasks.check_transfer_task,
                        State.CHECKED: tasks.hold_funds_task,
                        State.FUNDS_HELD: tasks.send_payout_task}[transfer.state]
                if transfer.state == State.FUNDS_HELD and transfer.network_outcome:
                    task = tasks.settle_transfer_task
                counts["redriven"] += 1
            Transfer.objects.filter(pk=transfer.pk).update(
                redrives=F("redrives") + 1,
                due_at=now + settings.TRANSFER_STUCK_AFTER[transfer.state])
            _enqueue_on_commit(task, transfer)
    if any(counts.values()):
        logger.info("re-drove stuck transfers", extra=counts)
    return counts


def _enqueue_on_commit(task, transfer: Transfer) -> None:
    headers = ({correlation.TASK_HEADER: transfer.correlation_id}
               if transfer.correlation_id else {})
    transfer_id = str(transfer.pk)
    transaction.on_commit(lambda: task.apply_async((transfer_id,), headers=headers))


def reject_stuck_transfer(transfer_id) -> bool:
    return _reject(transfer_id, "redrive_limit_reached",
                   "We could not check this transfer. Please try again.",
                   from_states={State.RECEIVED}, by=Trigger.BEAT)
