"""Row locks for provisioning requests, in one place (Saleor's lock_objects.py habit).

Services take these inside transaction.atomic() before calling a transition, so two
workers (or a worker and a webhook) never move the same request at once.
"""

from .models import ProvisioningRequest


def provisioning_request_for_update(request_id) -> ProvisioningRequest:
    return ProvisioningRequest.objects.select_for_update().get(pk=request_id)


def due_requests_for_update(states, now, limit: int):
    """Due requests, skipping rows another sweep or worker holds (safe to run twice)."""
    return list(
        ProvisioningRequest.objects.select_for_update(skip_locked=True)
        .filter(due_at__isnull=False, due_at__lte=now, state__in=states)
        .order_by("due_at")[:limit]
    )
