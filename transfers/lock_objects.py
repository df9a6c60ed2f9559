"""Row locks for transfers, in one place. Services take these inside transaction.atomic()
before calling a transition, so two workers (or a worker and an operator) never move the
same transfer at once."""

from .models import Transfer


def transfer_for_update(transfer_id, *, with_payee: bool = False) -> Transfer:
    """The transfer's row, locked. `with_payee` reads its payee in the same statement
    (for a move whose notice or card check names it) without locking the payee's row:
    a payee is locked only on its own (cards.py), after the transfer."""
    rows = Transfer.objects.select_for_update(of=("self",))
    if with_payee:
        rows = rows.select_related("payee")
    return rows.get(pk=transfer_id)


def due_transfers_for_update(states, now, limit: int):
    """Due transfers, skipping rows another sweep or worker holds (safe to run twice)."""
    return list(
        Transfer.objects.select_for_update(skip_locked=True)
        .filter(due_at__isnull=False, due_at__lte=now, state__in=states)
        .order_by("due_at")[:limit]
    )
