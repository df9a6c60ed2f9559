"""Notification use cases: queue a message inside the caller's transaction, send it once,
drain what got stranded. (The customer's devices and preferences: profiles.py.)

Sending is claim → send → record, each step its own short transaction and the gateway
call outside any:

1. claim: the pending, due row moves to `sending` under a SKIP LOCKED row lock, so of
   two dispatchers racing on one row exactly one gets it; the other does nothing.
2. send: one gateway call, no lock held.
3. record: `sent` with the provider's message id, or a retry, a fallback, a failure.

Delivery is at least once, and the one window where a message can go twice is narrow:
the gateway accepted it and this process died (or its database write failed) before
step 3 committed. The row then stays `sending` until its claim lapses
(NOTIFICATION_SENDING_LEASE_SECONDS) and beat sends it again under the same
`reference`, so the duplicate is visible at the gateway. The same holds for a gateway
that times out after accepting. Neither gateway takes an idempotency key, so closing
the window would need the gateway's help; keeping it to one call wide is what we can do.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from prometheus_client import Counter

from core import statements
from core.backoff import full_jitter
from core.crypto import vault
from core.errors import StateConflict
from core.outside.http import PermanentError, TransientError

from . import lock_objects, templates
from .channels import PushGatewayClient, Sent, SmsGatewayClient
from .models import Channel, CustomerProfile, Device, Notification, Status, TemplateKey
from .profiles import profile_for
from .signals import one_time_code_undeliverable

logger = logging.getLogger(__name__)

OTP_EVENT_PREFIX = "otp:"  # a code's event: "otp:<sequence>"

NOTIFICATIONS_TOTAL = Counter(
    "notifications_total", "Notification send outcomes",
    ["channel", "outcome"],  # outcome: sent, retried, fell_back, failed
)


# --- queueing: inside the caller's transaction, no I/O ------------------------------------

def queue_event_notification(*, customer_id: str, object_id, event: str, template_key: str,
                             context: dict[str, Any], msisdn: str = "") -> Notification:
    """The outbox row for one event, sent after the caller's transaction commits.

    Once per (object_id, event): a second call (the signal fired twice) returns the row
    the first one added and enqueues nothing.
    """
    return _add(Notification(
        customer_id=customer_id,
        object_id=object_id,
        event=event,
        template_key=template_key,
        channel=_from_profile(customer_id, "preferred_channel"),
        locale=_from_profile(customer_id, "locale"),
        msisdn=msisdn or _from_profile(customer_id, "msisdn"),
        context=context,
    ))


def _from_profile(customer_id: str, field: str):
    """The customer's preference, read by the outbox row's own INSERT (a scalar subquery,
    so no statement of its own); the profile's default for a customer who set none."""
    default = CustomerProfile._meta.get_field(field).get_default()
    return Coalesce(Subquery(CustomerProfile.objects.filter(customer_id=customer_id)
                             .values(field)[:1]), Value(default))


def sms_number_for(customer_id: str, msisdn: str = "") -> str:
    """Where an SMS for this customer goes: the number known with the event, else the
    profile's; empty when there is none (a one-time code cannot reach them)."""
    return msisdn or profile_for(customer_id).msisdn


def queue_one_time_code(*, request, code: str, sequence: int) -> Notification:
    """The SMS carrying a step-up code; call inside the request's transaction.

    SMS only, whatever the customer prefers. The code is stored sealed for this row and
    erased once the row is sent or has failed for good; it is never logged. It has a
    delivery budget of its own (NOTIFICATION_OTP_DELIVERY_SECONDS): a customer waiting
    at the screen must learn within about a minute that no code is coming, and a
    failed code is announced (signals.one_time_code_undeliverable).
    """
    expires_minutes = math.ceil(getattr(settings, "OTP_TTL_SECONDS", 600) / 60)
    return _add(
        Notification(
            customer_id=request.customer_id,
            object_id=request.pk,
            event=f"{OTP_EVENT_PREFIX}{sequence}",
            template_key=TemplateKey.STEP_UP_CODE,
            channel=Channel.SMS,
            locale=_from_profile(request.customer_id, "locale"),
            msisdn=request.customer_msisdn or _from_profile(request.customer_id, "msisdn"),
            context={"wallet": request.wallet, "card_last4": request.card_last4,
                     "expires_minutes": expires_minutes},
        ),
        secrets={"code": code},
    )


def _add(notification: Notification, secrets: dict[str, Any] | None = None) -> Notification:
    from .tasks import send_notification_task

    if secrets:
        notification.secret_context = secrets  # sealed by the field when the row is saved
    if not _insert(notification):
        existing = Notification.objects.get(object_id=notification.object_id,
                                            event=notification.event)
        _log_duplicate(existing)
        return existing
    # What the INSERT computed in the database (the profile's choices) is read from the
    # row if asked for, not left as the expression that computed it.
    for field in Notification._meta.concrete_fields:
        if hasattr(notification.__dict__.get(field.attname), "resolve_expression"):
            del notification.__dict__[field.attname]
    send_notification_task.delay_on_commit(str(notification.pk))
    return notification


def _insert(notification: Notification) -> bool:
    """Write the row unless its event already has one; False for a twin.

    PostgreSQL: one statement. The outbox's trigger drops a twin instead of failing
    (notifications/migrations/0007), and the INSERT's row count says which it was.
    SQLite (the embedded mode) keeps the unique constraint on the table itself: a
    savepoint keeps a twin's IntegrityError from spoiling the caller's transaction
    (the state change the notification belongs to).
    """
    if connection.vendor == "postgresql":
        return statements.insert_unless_dropped(notification)
    try:
        with transaction.atomic():
            notification.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _log_duplicate(existing: Notification) -> None:
    logger.info("notification already queued for this event",
                extra={"notification_id": str(existing.pk), "event": existing.event})


# --- dispatch -----------------------------------------------------------------------------

class _Undeliverable(Exception):
    """Nothing to send with, or nothing to send: a coded, permanent refusal of our own."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class _Claim:
    notification: Notification
    attempt: int  # fences the record step: a lapsed claim must not overwrite a newer one


def dispatch(notification_id) -> float | None:
    """Send one notification if it is due and nobody else is sending it.

    Returns the seconds until its next try when a transient error left it pending, else
    None (sent, failed, or not ours to send).
    """
    claim = _claim(notification_id)
    if claim is None:
        return None
    try:
        sent = _send(claim.notification)
    except TransientError as error:
        return _after_transient_error(claim, error)
    except (PermanentError, _Undeliverable) as error:
        return _after_refusal(claim, error.code)
    _record(claim, lambda row: row.mark_sent(provider_message_id=sent.provider_message_id),
            outcome="sent")
    return None


def _claim(notification_id) -> _Claim | None:
    notification = lock_objects.claim_due_notification(
        notification_id, timezone.now(),
        lease=timedelta(seconds=settings.NOTIFICATION_SENDING_LEASE_SECONDS))
    if notification is None:
        return _not_ours(notification_id)
    return _Claim(notification, notification.attempts)


def _not_ours(notification_id) -> None:
    logger.info("no-op: notification is not pending, not due, or being sent",
                extra={"notification_id": str(notification_id)})


def _send(notification: Notification) -> Sent:
    message = _render(notification)
    if notification.channel == Channel.PUSH:
        # The customer's most recent device with a push token, read by the claim.
        push_token = getattr(notification, "device_push_token", None)
        if not push_token:
            raise _Undeliverable("no_push_token")
        try:
            return PushGatewayClient().send(
                device_token=push_token, title=message.title, body=message.body,
                reference=notification.reference, event=notification.template_key)
        except PermanentError as error:
            if error.code == "push_unregistered":
                # A dead token stays dead: later notifications go straight to SMS.
                Device.objects.filter(customer_id=notification.customer_id,
                                      push_token=push_token).delete()
            raise
    msisdn = notification.msisdn or profile_for(notification.customer_id).msisdn
    if not msisdn:
        raise _Undeliverable("no_contact")
    return SmsGatewayClient().send(to=msisdn, text=message.body,
                                   reference=notification.reference)


def _render(notification: Notification) -> templates.Message:
    context = dict(notification.context)
    try:
        if notification.secret_context:
            context.update(notification.secret_context)
        return templates.render(notification.template_key, notification.locale, context)
    except (KeyError, ValueError, vault.VaultError) as error:
        # Retrying renders the same thing again: a bug or a lost key, for operations.
        logger.error("notification could not be rendered",
                     extra={"notification_id": str(notification.pk),
                            "error_type": type(error).__name__})
        raise _Undeliverable("render_failed") from None


def _after_transient_error(claim: _Claim, error: TransientError) -> float | None:
    if claim.attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
        delay = retry_delay(claim.attempt)
        if _within_delivery_budget(claim.notification, delay):
            _record(claim, lambda row: row.schedule_retry(error_code=error.code,
                                                          delay=timedelta(seconds=delay)),
                    outcome="retried")
            return delay
    return _after_refusal(claim, "gateway_unavailable")


def _within_delivery_budget(notification: Notification, delay: float) -> bool:
    """Whether a retry after `delay` still falls in the message's delivery budget. Only a
    one-time code has one: past it the customer has been waiting too long, and the
    step-up it belongs to should end rather than hang on a code that may never come."""
    if notification.template_key != TemplateKey.STEP_UP_CODE:
        return True
    deadline = notification.created_at + timedelta(
        seconds=settings.NOTIFICATION_OTP_DELIVERY_SECONDS)
    return timezone.now() + timedelta(seconds=delay) <= deadline


def _after_refusal(claim: _Claim, code: str) -> float | None:
    """A send that will not succeed on this channel: a push falls back to SMS, the rest fail.

    The fallback stays on the same row rather than a new one: the event keeps one row and
    one de-duplication key, the reference stays the same (a push that did arrive after all
    and its SMS show as one reference twice instead of hiding as two messages), and admin
    shows one history.
    """
    # Rendering fails the same way on every channel.
    if claim.notification.channel == Channel.PUSH and code != "render_failed":
        if _record(claim, lambda row: row.fall_back_to_sms(reason=code), outcome="fell_back"):
            return dispatch(claim.notification.pk)
        return None
    _record(claim, lambda row: row.fail(error_code=code), outcome="failed")
    return None


def _record(claim: _Claim, move, *, outcome: str) -> bool:
    """Apply the send's outcome, if the row is still ours; True when it was."""
    row = claim.notification
    channel = row.channel
    with transaction.atomic():
        move(row)
        # Written only while the row is still ours: in `sending` under this very claim
        # (its attempt number), one conditional UPDATE instead of a locked read first.
        if not statements.update_changed(row, status=Status.SENDING, attempts=claim.attempt):
            # Our claim lapsed and beat handed the row to another dispatcher; its
            # outcome is the one that counts.
            logger.warning("notification claim lapsed before its outcome was recorded",
                           extra={"notification_id": str(row.pk), "outcome": outcome})
            return False
        if row.status == Status.FAILED:
            _announce_if_undeliverable_code(row)
    NOTIFICATIONS_TOTAL.labels(channel, outcome).inc()
    log = logger.warning if outcome == "failed" else logger.info
    log(f"notification {outcome.replace('_', ' ')}",
        extra={"notification_id": str(row.pk), "template_key": row.template_key,
               "channel": channel, "attempt": claim.attempt, "error_code": row.last_error})
    return True


def _announce_if_undeliverable_code(row: Notification) -> None:
    """Inside the transaction that failed the row: tell whoever waits on this code (the
    step-up, in provisioning) that it will not arrive."""
    if row.template_key != TemplateKey.STEP_UP_CODE or not row.event.startswith(OTP_EVENT_PREFIX):
        return
    try:
        sequence = int(row.event.removeprefix(OTP_EVENT_PREFIX))
    except ValueError:
        return
    one_time_code_undeliverable.send(sender=Notification, object_id=row.object_id,
                                     customer_id=row.customer_id, sequence=sequence,
                                     error_code=row.last_error)


def retry_delay(attempts: int) -> float:
    """The delay before a notification's next try (NOTIFICATION_RETRY_*)."""
    return full_jitter(attempts, base=settings.NOTIFICATION_RETRY_BASE_SECONDS,
                       cap=settings.NOTIFICATION_RETRY_MAX_SECONDS)


# --- beat: the outbox drain ---------------------------------------------------------------

def drain_outbox(limit: int | None = None) -> dict[str, int]:
    """Send again whatever a lost broker message or a dead dispatcher left behind.

    Pending rows overdue by NOTIFICATION_DRAIN_AFTER_SECONDS are enqueued again (their
    due time set to now, so the next sweep leaves them alone for as long again); rows
    whose `sending` claim lapsed go back to pending first (the at-least-once window in
    this module's docstring). Claims use SKIP LOCKED, so two sweeps never take one row.
    """
    from .tasks import send_notification_task

    limit = limit or settings.NOTIFICATION_DRAIN_BATCH_SIZE
    now = timezone.now()
    overdue = now - timedelta(seconds=settings.NOTIFICATION_DRAIN_AFTER_SECONDS)
    counts = {"requeued": 0, "reclaimed": 0, "failed": 0}
    with transaction.atomic():
        for row in lock_objects.stranded_notifications_for_update(
                pending_due_before=overdue, claim_lapsed_before=now, limit=limit):
            if row.status == Status.SENDING:
                if row.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
                    row.fail(error_code="dispatch_interrupted")
                    row.save()
                    _announce_if_undeliverable_code(row)
                    counts["failed"] += 1
                    continue
                row.schedule_retry(error_code="dispatch_interrupted", delay=timedelta(0))
                counts["reclaimed"] += 1
            else:
                row.next_attempt_at = now
                counts["requeued"] += 1
            row.save()
            send_notification_task.delay_on_commit(str(row.pk))
    if any(counts.values()):
        logger.info("notification outbox drained", extra=counts)
    return counts


# --- operations ---------------------------------------------------------------------------

def resend_notification(notification_id, *, actor) -> Notification:
    """Operations put a failed notification back to pending; it is sent again at once."""
    from .tasks import send_notification_task

    with transaction.atomic():
        row = lock_objects.notification_for_update(notification_id)
        try:
            row.resend()
        except TransitionNotAllowed:
            raise StateConflict(
                f"A {row.status} {row.template_key} notification cannot be resent.",
                code="resend_not_allowed", details={"status": row.status},
            ) from None
        row.save()
        send_notification_task.delay_on_commit(str(row.pk))
    logger.info("notification resent by operations",
                extra={"notification_id": str(row.pk),
                       "actor": getattr(actor, "get_username", lambda: str(actor))()})
    return row


def occurrence(template_key: str, instance) -> str:
    """The de-duplication event of a state change: which event, and which time it
    happened to this object (a model with `state_changed_at`).

    Every transition stamps `state_changed_at`, so the same signal fired twice gives the
    same key (one message), while a second real occurrence (failed again after an
    operations retry; suspended again after a resume) gives a new one.
    """
    return f"{template_key}:{instance.state_changed_at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"
