"""What the live worker writes per task: its own lines and the task's outcome, not
Celery's "received" line for every message (CELERY_RECEIVED_LOG_LEVEL, docs/performance.md)."""

from __future__ import annotations

import pytest

from core.models import TransitionLog
from devstack import wait_until

pytestmark = [pytest.mark.integration]


def test_a_green_push_logs_its_moves_and_outcomes_but_no_received_lines(stack):
    log = stack.worker.log_path
    start = log.stat().st_size

    def lines() -> list[str]:
        with open(log, "rb") as handle:
            handle.seek(start)
            return handle.read().decode(errors="replace").splitlines()

    created = stack.create("card_green")
    stack.wait_terminal(created["id"])
    # The "added" notification's task is the push's last; its outcome line closes it.
    wait_until(lambda: any(" celery.app.trace " in line and "send_notification_task" in line
                           and "succeeded" in line for line in lines()),
               message="the notification task's outcome line")
    seen = lines()
    correlation_id = TransitionLog.objects.filter(object_id=created["id"]).first().correlation_id
    assert correlation_id
    moves = [line for line in seen if " transitions " in line and f"[{correlation_id}]" in line]
    assert len(moves) >= 3  # received -> eligible -> token_requested -> provisioned
    assert [line for line in seen if " celery.worker.strategy " in line] == []
