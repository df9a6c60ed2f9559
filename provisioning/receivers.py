"""Provisioning's answers to the signals and hooks of the apps below it (they cannot
import the flows), connected at start by ProvisioningConfig.ready:

- every state change of a request, or of its token, that the customer is told about
  adds a notification to the outbox (a post_transition receiver: it runs inside the
  service's transaction and only adds a row, so a rolled-back transition notifies
  nobody and a committed one is never forgotten; sending happens after commit);
- a one-time code whose SMS failed for good ends its step-up at once (step_up.py), by
  a task enqueued when the notification's transaction commits;
- a decision the token service sends by webhook is applied to its request.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django_fsm.signals import post_transition

from notifications.models import TemplateKey
from notifications.services import occurrence, queue_event_notification
from notifications.signals import one_time_code_undeliverable
from tokens.models import Token
from tokens.webhooks import UnknownRequest

from . import services, tasks
from .models import ProvisioningRequest, State

_REQUEST_OUTCOMES = {
    State.PROVISIONED: TemplateKey.PROVISIONED,
    State.DECLINED: TemplateKey.DECLINED,
    State.INELIGIBLE: TemplateKey.INELIGIBLE,
    State.FAILED: TemplateKey.FAILED,
    State.EXPIRED: TemplateKey.EXPIRED,
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


@receiver(post_transition, sender=ProvisioningRequest,
          dispatch_uid="provisioning.notify_request_outcome")
def notify_request_outcome(sender, instance, name, source, target, **kwargs):
    _notify(_REQUEST_OUTCOMES.get(target), instance, request=instance)


@receiver(post_transition, sender=Token, dispatch_uid="provisioning.notify_token_change")
def notify_token_change(sender, instance, name, source, target, **kwargs):
    _notify(_TOKEN_CHANGES.get((source, target)), instance,
            request=instance.provisioning_request)


def _notify(template_key: str | None, instance, *, request: ProvisioningRequest) -> None:
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


@receiver(one_time_code_undeliverable, dispatch_uid="provisioning.end_unreachable_step_up")
def end_unreachable_step_up(sender, object_id, sequence, **kwargs):
    tasks.end_unreachable_step_up_task.delay_on_commit(str(object_id), sequence)


def apply_webhook_decision(request_id, decision, *, by: str) -> bool:
    """tokens.webhooks' decision handler (registered in ProvisioningConfig.ready)."""
    try:
        return services.apply_decision(request_id, decision, by=by)
    except (ProvisioningRequest.DoesNotExist, ValidationError):
        raise UnknownRequest(str(request_id)) from None
