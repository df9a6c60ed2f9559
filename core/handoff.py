"""How a flow's step hands its object to the step after it: published as that step's own
task, or, inside a worker task, run next in the same task (docs/adr/0012, 0013).

A step calls `then(next_task, object_id)` inside the transaction that moved the object.
Outside a worker task (the API, admin, a sweep, a test calling a step) that is
`next_task.delay_on_commit(...)`, as before. Inside one (a flow's task calls `drive`) the
next step is only noted, after commit, and the task runs it itself once the step that
noted it has returned: a transfer's check → hold → OCT → capture, a push's eligibility →
token request, are one task on the happy path, saving a publish, a consume and a task
set-up per step.

Nothing about safety changes. Each step still commits its own move before the next one
starts, still re-checks the state when it saves (a row lock, or the FSM's state check in
the UPDATE: docs/adr/0015), and every outside call is still keyed
by the object; a crash in the middle leaves the object in the last committed state, where
the flow's beat re-drive finds it when it is overdue. Only steps with no delay are handed
on with `then`: anything after a countdown is published by the flow itself.

Core knows no flow: each flow passes its own `run_step` (which service a task name runs,
how its outside errors map to a retry) and its bound.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction

_noted: ContextVar[list | None] = ContextVar("handoff_next_steps", default=None)

# run_step(task name, object id, loaded) -> (seconds, error) when that step should be
# tried again later, else None (done, failed, or a no-op). `loaded` is the object as the
# step before left it, when that step ran in this same task (else None: load it).
RunStep = Callable[[str, str, Any], "tuple[float, Exception] | None"]


def then(task, object_id, *, loaded=None) -> None:
    """Run `task` for this object once the current transaction commits: next in this
    worker task if one is collecting, otherwise published. `loaded`, the object as this
    step saved it, is handed to the next step when it runs in this task, so it need not
    read the row again (its save still checks that nobody moved it in between)."""
    noted = _noted.get()
    object_id = str(object_id)
    if noted is None:
        task.delay_on_commit(object_id)
    else:
        transaction.on_commit(lambda: noted.append((task, object_id, loaded)))


def runs_next_in_this_task() -> bool:
    """Whether a step handed on now (`then`) would run next in this worker task."""
    return _noted.get() is not None


@contextmanager
def collecting():
    """Inside: `then` notes the next steps instead of publishing them; yields the list."""
    noted: list = []
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)


def drive(task, object_id: str, run_step: RunStep, *, max_steps: int) -> None:
    """Run this task's step, then, in this same task, each step it hands the object on to,
    up to `max_steps` further steps. The first step's retry is this message's
    (`task.retry`); a later step's retry is published as that step's own task with the
    countdown. Whatever is still noted when this ends (the bound, or an unexpected error
    after a committed move) is published, so no committed move is left waiting for beat."""
    with collecting() as noted:
        try:
            retry = run_step(task.name, object_id, None)
            if retry is not None:
                delay, exc = retry
                raise task.retry(countdown=delay, exc=exc)
            for _ in range(max_steps):
                if not noted:
                    break
                next_task, next_id, loaded = noted.pop(0)
                retry = run_step(next_task.name, next_id, loaded)
                if retry is not None:
                    next_task.apply_async((next_id,), countdown=retry[0])
        finally:
            for next_task, next_id, _loaded in noted:
                next_task.apply_async((next_id,))
