"""One row per floor "provisioning": created by the view, moved along by the task chain."""

import uuid

from django.db import models


class FloorRow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.CharField(max_length=64)
    hops_done = models.PositiveSmallIntegerField(default=0)
    hops_total = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, default="received")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
