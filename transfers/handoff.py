"""How a step hands a transfer to the step after it: published as that step's own task,
or, inside a worker task, run next in the same task.

A step calls `then(next_task, transfer_id)` inside the transaction that moved the
transfer. Outside a worker task (the API, admin, a test calling a step) that is
`next_task.delay_on_commit(...)`, as before. Inside one (tasks.py opens `collecting()`)
the next step is only noted, after commit, and the task runs it itself once the step that
noted it has returned: check → hold → OCT → capture is one task on the happy path instead
of four, saving three publishes, consumes and task set-ups (docs/adr/0012).

Nothing about safety changes. Each step still commits its own move before the next one
starts, still re-checks the state under a row lock, and every outside call is still keyed
by the transfer; a crash in the middle leaves the transfer in the last committed state,
where beat's re-drive (sweeps.py) finds it when it is overdue. Only steps with no delay
are run next: an inquiry after a countdown is always published.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_noted: ContextVar[list | None] = ContextVar("transfers_next_steps", default=None)


def then(task, transfer_id) -> None:
    """Run `task` for this transfer once the current transaction commits: next in this
    worker task if one is collecting, otherwise published."""
    noted = _noted.get()
    transfer_id = str(transfer_id)
    if noted is None:
        task.delay_on_commit(transfer_id)
    else:
        transaction.on_commit(lambda: noted.append((task, transfer_id)))


@contextmanager
def collecting():
    """Inside: `then` notes the next steps instead of publishing them; yields the list."""
    noted: list = []
    token = _noted.set(noted)
    try:
        yield noted
    finally:
        _noted.reset(token)
