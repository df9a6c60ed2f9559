"""What every state machine of the service shares: who moved it (`Trigger`) and the
append-only history of every move (`TransitionLog`).

A model joins the log by naming its machine in `TRANSITION_LOG_MACHINE`; the
post_transition receiver in core/transitions.py then appends one row per transition, in
the transaction that moves the row. The database refuses to update or delete a row of
the log (a trigger, core/migrations).
"""

from __future__ import annotations

from django.db import models


class Trigger(models.TextChoices):
    """Who or what caused a transition."""

    API = "api"
    WORKER = "worker"
    WEBHOOK = "webhook"
    BEAT = "beat"
    ADMIN = "admin"


class TransitionLog(models.Model):
    """Append-only history of every transition of every state machine."""

    id = models.BigAutoField(primary_key=True)
    # The machine's TRANSITION_LOG_MACHINE: provisioning_request, token, transfer, ...
    machine = models.CharField(max_length=32)
    object_id = models.UUIDField()
    transition = models.CharField(max_length=64)
    from_state = models.CharField(max_length=32)
    to_state = models.CharField(max_length=32)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    actor = models.CharField(max_length=150, blank=True, default="")
    reason = models.CharField(max_length=255, blank=True, default="")
    correlation_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["object_id", "id"]
        indexes = [models.Index(fields=["machine", "object_id", "id"],
                                name="transition_log_object_idx")]

    def __str__(self) -> str:
        return f"{self.machine} {self.object_id}: {self.from_state} → {self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("TransitionLog is append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("TransitionLog is append-only")
