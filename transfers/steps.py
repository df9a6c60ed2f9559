"""Visa Direct worker steps after the checks (checks.py): hold, send, inquire, settle;
their failures and retries. Each step locks its row, re-checks the state, and moves the
Transfer's state machine; beat's re-drive is in sweeps.py, the use cases the API and
admin call in services.py.

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
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import handoff
from core.models import Trigger
from core.backoff import outside_retry_delay
from core.outside.http import PermanentError, TransientError

from . import cards, lock_objects
from .models import (
    NetworkOutcome,
    State,
    Transfer,
)

logger = logging.getLogger(__name__)

OUTCOME_UNSETTLED = (NetworkOutcome.UNKNOWN, NetworkOutcome.PENDING)


# --- worker steps -----------------------------------------------------------------------

def _noop(transfer_id, step: str, state: str) -> None:
    logger.info("no-op: transfer is no longer waiting for this step",
                extra={"transfer_id": str(transfer_id), "step": step, "state": state})


def _begin_attempt(transfer_id, state: str, **also) -> bool:
    """Count one outside attempt on the row; False if the transfer has left `state`.
    The count lives on the row, so a redelivered message cannot retry forever."""
    return Transfer.objects.filter(pk=transfer_id, state=state).update(
        attempts=F("attempts") + 1, **also) == 1


def reject(transfer_id, code: str, message: str, *, from_states, by=Trigger.WORKER) -> bool:
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id, with_payee=True)
        if transfer.state not in from_states:
            _noop(transfer_id, f"reject:{code}", transfer.state)
            return False
        transfer.reject(by=by, reason=code, message=message)
        transfer.save()
        cards.erase_if_no_longer_needed(transfer.payee_id)
    logger.warning("transfer rejected", extra={"transfer_id": str(transfer_id),
                                               "failure_code": code})
    return True


def hold_funds(transfer_id) -> None:
    """Hold amount + fee on the customer's balance (key `<id>:hold`: a repeat replays the
    same hold), then send the OCT. Insufficient funds rejects; nothing is held then."""
    from .ledger import InsufficientFunds, LedgerClient
    from .tasks import send_payout_task

    # From here on the customer can no longer cancel, nor the card be erased: a hold may
    # be in place. The payee's lock orders this against a deletion of the payee; it is
    # taken after the transfer's, the order every step that ends a transfer uses (reject,
    # cancel, settle), so the two never wait on each other.
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.CHECKED:
            return _noop(transfer_id, "hold_funds", transfer.state)
        payee_deleted = (cards.payee_for_update(transfer.payee_id).is_deleted
                         and transfer.hold_requested_at is None)
        begun = not payee_deleted and _begin_attempt(
            transfer_id, State.CHECKED,
            hold_requested_at=Coalesce(F("hold_requested_at"), timezone.now()))
    if payee_deleted:
        reject(transfer_id, "payee_deleted", "The payee was deleted.",
                from_states={State.CHECKED})
        return
    if not begun:
        return _noop(transfer_id, "hold_funds", "moved")
    try:
        hold = LedgerClient().hold(transfer_id=str(transfer.id), customer_id=transfer.customer_id,
                                   amount=transfer.amount, fee=transfer.fee,
                                   currency=transfer.currency)
    except InsufficientFunds:
        reject(transfer_id, "insufficient_funds",
                "Your M-Pesa balance cannot cover this transfer and its fee.",
                from_states={State.CHECKED})
        return
    with transaction.atomic():
        transfer = lock_objects.transfer_for_update(transfer_id)
        if transfer.state != State.CHECKED:
            return _noop(transfer_id, "hold_funds", transfer.state)
        transfer.mark_funds_held(by=Trigger.WORKER, hold_id=hold.hold_id)
        transfer.save()
        handoff.then(send_payout_task, transfer.id)


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
    return reject(transfer_id, code, "M-Pesa could not hold the funds. Please try again later.",
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
    # Beat looks again only once this inquiry is overdue: a sweep during its countdown
    # would start a second chain of inquiries, each spending the budget.
    Transfer.objects.filter(pk=transfer_id, state=State.SUBMITTED).update(
        due_at=timezone.now() + timedelta(seconds=countdown)
        + settings.TRANSFER_STUCK_AFTER[State.SUBMITTED])
    transfer_id = str(transfer_id)
    transaction.on_commit(lambda: inquire_payout_task.apply_async((transfer_id,),
                                                                  countdown=countdown))


def _schedule_settlement(transfer_id) -> None:
    from .tasks import settle_transfer_task

    handoff.then(settle_transfer_task, transfer_id)


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
            _schedule_inquiry(transfer_id, outside_retry_delay(transfer.inquiries + 1))
        return
    if status is None:
        # The search may not show a payout made moments ago: "not found" counts only once
        # it has held for the confirmation window since the send.
        wait = _not_found_wait(transfer)
        if wait > 0:
            logger.info("OCT not found yet; asking again after the confirmation window",
                        extra={"transfer_id": str(transfer_id), "wait_seconds": round(wait, 2)})
            with transaction.atomic():
                _schedule_inquiry(transfer_id, wait)
            return
        logger.info("the network never took this OCT; sending it again under the same code",
                    extra={"transfer_id": str(transfer_id)})
        _send_and_record(transfer, client)
        return
    record_payout_status(transfer_id, status)


def _not_found_wait(transfer: Transfer) -> float:
    """Seconds left before a "not found" may be believed (0: believe it now)."""
    if transfer.payout_sent_at is None:
        return 0.0
    confirmed_at = transfer.payout_sent_at + timedelta(
        seconds=settings.TRANSFER_NOT_FOUND_CONFIRM_SECONDS)
    return max(0.0, (confirmed_at - timezone.now()).total_seconds())


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
        transfer = lock_objects.transfer_for_update(transfer_id, with_payee=True)
        if transfer.state not in (State.FUNDS_HELD, State.SUBMITTED, State.NEEDS_ATTENTION):
            _noop(transfer_id, "settle", transfer.state)
            return False
        if outcome == NetworkOutcome.APPROVED:
            transfer.complete(by=by, actor=actor)
        else:
            code = transfer.failure_code or "network_declined"
            transfer.decline(by=by, actor=actor, reason=code)
        transfer.save()
        cards.erase_if_no_longer_needed(transfer.payee_id)
    return True


# --- failures and retries ---------------------------------------------------------------

def handle_transient_failure(transfer_id, error: TransientError) -> float | None:
    """Seconds until the next try, or None once the row's attempts are spent (then a
    transfer that has not touched money is rejected; one that has waits for beat)."""
    row = Transfer.objects.filter(pk=transfer_id).values_list("attempts", "state").first()
    if row is None:
        return None
    attempts, state = row
    if attempts < settings.OUTSIDE_MAX_ATTEMPTS:
        return outside_retry_delay(attempts)
    if state == State.RECEIVED:
        reject(transfer_id, error.code, "We could not check this transfer. Please try again.",
                from_states={State.RECEIVED})
    elif state == State.CHECKED:
        give_up_hold(transfer_id, error.code)
    return None


def handle_permanent_failure(transfer_id, error: PermanentError) -> None:
    row = Transfer.objects.filter(pk=transfer_id).values_list("state", flat=True).first()
    if row == State.RECEIVED:
        reject(transfer_id, error.code, "This transfer could not be checked.",
                from_states={State.RECEIVED})
    elif row == State.CHECKED:
        give_up_hold(transfer_id, error.code)
    else:
        logger.error("permanent error with money in flight; beat will re-drive",
                     extra={"transfer_id": str(transfer_id), "error_code": error.code})
