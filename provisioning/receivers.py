"""Provisioning's answers to signals of the apps below it (they cannot import the flows).

A one-time code whose SMS failed for good ends its step-up at once (step_up.py), by a
task enqueued when the notification's transaction commits: the receiver adds nothing to
that transaction but the enqueue.
"""

from __future__ import annotations

from django.dispatch import receiver

from notifications.signals import one_time_code_undeliverable


@receiver(one_time_code_undeliverable, dispatch_uid="provisioning.end_unreachable_step_up")
def end_unreachable_step_up(sender, object_id, sequence, **kwargs):
    from .tasks import end_unreachable_step_up_task

    end_unreachable_step_up_task.delay_on_commit(str(object_id), sequence)
