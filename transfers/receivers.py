"""Transfers' answers to the signals of the apps below it, connected at start by
TransfersConfig.ready: the sender is told how their transfer ended.

A post_transition receiver adds the notification to the outbox inside the transaction
of the move that ended the transfer (a rolled-back move notifies nobody; a committed one
is never forgotten; sending happens after commit, notifications/services.py). Terminal
states are entered once, so each (transfer, event) is one row: the event is the template
key itself, and the outbox's unique key makes a second signal or a redelivered task's
repeat a no-op. The message names the amount, the payee's name and last four, never the
card; a rejection's reason is a customer-words key, never the failure code
(transfers/customer_codes.py).
"""

from __future__ import annotations

from django.dispatch import receiver
from django_fsm.signals import post_transition

from notifications.models import TemplateKey
from notifications.services import queue_event_notification

from .customer_codes import rejection_reason
from .models import State, Transfer

_OUTCOMES = {
    State.COMPLETED: TemplateKey.TRANSFER_COMPLETED,
    State.DECLINED: TemplateKey.TRANSFER_DECLINED,
    State.REJECTED: TemplateKey.TRANSFER_REJECTED,
}
@receiver(post_transition, sender=Transfer, dispatch_uid="transfers.notify_transfer_outcome")
def notify_transfer_outcome(sender, instance, name, source, target, **kwargs):
    template_key = _OUTCOMES.get(target)
    if template_key is None:
        return
    queue_event_notification(
        customer_id=instance.customer_id,
        object_id=instance.pk,
        event=str(template_key),
        template_key=template_key,
        context=message_context(instance),
    )


def message_context(transfer: Transfer) -> dict:
    """What the message names: money in minor units (formatted when rendered), the payee's
    name and last four, when the money arrives, and for a rejection why."""
    context = {
        "amount": transfer.amount,
        "fee": transfer.fee,
        "total": transfer.total,
        "currency": transfer.currency,
        "delivery": transfer.delivery,
        "payee_name": transfer.payee.name,
        "payee_last4": transfer.payee.last4,
    }
    if transfer.state == State.REJECTED:
        context["reason"] = rejection_reason(transfer.failure_code)
    return context

