"""Adds a notification to the outbox for every state change the customer is told about.

A post_transition receiver runs when the state changes in memory, inside the service's
transaction, so the row commits or rolls back with the state change: a rolled-back
transition notifies nobody and a committed one is never forgotten. It only adds rows;
sending happens after commit (services.dispatch).
"""

from __future__ import annotations

from datetime import UTC

from django.dispatch import receiver
from django_fsm.signals import post_transition

from .models import TemplateKey
from .services import queue_event_notification

_REQUEST_OUTCOMES = {
    "provisioned": TemplateKey.PROVISIONED,
    "declined": TemplateKey.DECLINED,
    "ineligible": TemplateKey.INELIGIBLE,
    "failed": TemplateKey.FAILED,
    "expired": TemplateKey.EXPIRED,
}
# (source, target) of a token: `active` from `suspended` is a resume, not the activation
# that completes provisioning; a token deleted before it was ever active was never in
# the wallet, and the request's own outcome (declined, expired) already told the customer.
_TOKEN_CHANGES = {
    ("active", "suspended"): TemplateKey.TOKEN_SUSPENDED,
    ("suspended", "active"): TemplateKey.TOKEN_RESUMED,
    ("active", "deleted"): TemplateKey.TOKEN_DELETED,
    ("suspended", "deleted"): TemplateKey.TOKEN_DELETED,
}


@receiver(post_transition, dispatch_uid="notifications.queue_customer_notification")
def queue_customer_notification(sender, instance, name, source, target, **kwargs):
    label = sender._meta.label
    if label == "provisioning.ProvisioningRequest":
        template_key = _REQUEST_OUTCOMES.get(target)
        request = instance
    elif label == "tokens.Token":
        template_key = _TOKEN_CHANGES.get((source, target))
        request = instance.provisioning_request
    else:
        return
    if template_key is None:
        return
    queue_event_notification(
        customer_id=instance.customer_id,
        object_id=instance.pk,
        event=occurrence(template_key, instance),
        template_key=template_key,
        context={"wallet": request.wallet, "card_last4": request.card_last4},
        msisdn=request.customer_msisdn,
    )


def occurrence(template_key: str, instance) -> str:
    """The de-duplication event: which event, and which time it happened to this object.

    Every transition stamps `state_changed_at`, so the same signal fired twice gives the
    same key (one message), while a second real occurrence (failed again after an
    operations retry; suspended again after a resume) gives a new one.
    """
    return f"{template_key}:{instance.state_changed_at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"
