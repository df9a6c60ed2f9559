"""Writes one TransitionLog row for every transition of every state machine that names
its machine in `TRANSITION_LOG_MACHINE`.

A post_transition receiver runs when the state changes in memory, inside the
service's transaction, so the log row commits or rolls back with the state change.
It only adds rows; it never calls anything outside.
"""

from __future__ import annotations

import inspect
import logging

from django.db import transaction
from django.dispatch import receiver
from django_fsm.signals import post_transition

from core.observability import correlation

from .models import TransitionLog

logger = logging.getLogger("transitions")


def machine_of(model) -> str | None:
    """The machine a model's transitions are logged and counted under, or None."""
    return getattr(model, "TRANSITION_LOG_MACHINE", None)


def _default_reason(model, transition_name: str) -> str:
    """The transition's own default `reason` (e.g. `operations_retry`) when the caller
    passed none, so the history never shows a blank reason for a known cause."""
    method = getattr(model, transition_name, None)
    try:
        parameter = inspect.signature(method).parameters.get("reason")
    except (TypeError, ValueError):
        return ""
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return ""
    return str(parameter.default or "")


@receiver(post_transition)
def record_transition(sender, instance, name, source, target, method_kwargs=None, **kwargs):
    machine = machine_of(sender)
    if machine is None:
        return
    method_kwargs = method_kwargs or {}
    trigger = method_kwargs.get("by")
    if not trigger:
        raise ValueError(f"transition {name} needs by=<Trigger>")
    actor = method_kwargs.get("actor")
    TransitionLog.objects.create(
        machine=machine,
        object_id=instance.pk,
        transition=name,
        from_state=source,
        to_state=target,
        trigger=trigger,
        actor=getattr(actor, "get_username", lambda: str(actor or ""))(),
        reason=str(method_kwargs.get("reason") or _default_reason(sender, name))[:255],
        correlation_id=correlation.get(),
    )
    # Logged once the change is durable: a rolled-back transition never happened.
    transaction.on_commit(lambda: logger.info(
        "transition",
        extra={
            "event": "transition",
            "machine": machine,
            "object_id": str(instance.pk),
            "transition": name,
            "from_state": source,
            "to_state": target,
            "trigger": str(trigger),
        },
    ))
