"""Core's periodic job: the monthly partitions of the log and the outbox (core/partitions.py)."""

from __future__ import annotations

from celery import shared_task

from . import partitions


@shared_task(acks_late=True, ignore_result=True)
def ensure_partitions_task() -> dict:
    """Create the coming months' partitions (idempotent); report the DEFAULT partitions'
    rows, which should be none."""
    return {"created": partitions.ensure(), "default_rows": partitions.default_rows()}
