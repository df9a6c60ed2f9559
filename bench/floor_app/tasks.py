"""The floor's task chain: each hop updates the row once and enqueues the next on commit."""

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import FloorRow


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def floor_hop_task(row_id: str, hop: int, hops_total: int) -> None:
    last = hop >= hops_total
    with transaction.atomic():
        FloorRow.objects.filter(pk=row_id).update(
            hops_done=F("hops_done") + 1, updated_at=timezone.now(),
            state="done" if last else "moving",
        )
        if not last:
            floor_hop_task.delay_on_commit(row_id, hop + 1, hops_total)
