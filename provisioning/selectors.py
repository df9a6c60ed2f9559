"""Reads about earlier pushes that other apps are handed (they never query provisioning).

Decisioning's velocity and device rules ask these; with no enabled rule asking, they cost
no query.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, IntegerField, Subquery

from tokens.services import live_tokens

from .models import ProvisioningRequest, State


class _Count(Subquery):
    """COUNT(*) of a queryset, as a scalar subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


class PushHistory:
    """decisioning.rules.History for one provisioning request.

    The first rule that asks reads every answer in one statement (four scalar
    subqueries, each on its own index); the rules that follow read them from memory.
    """

    def __init__(self, request: ProvisioningRequest):
        self.request = request
        self._answers: tuple[int, int, int, bool] | None = None

    def live_tokens_for_card(self) -> int:
        return self._read()[0]

    def attempts_by_customer(self) -> int:
        return self._read()[1]

    def attempts_by_device(self) -> int:
        return self._read()[2]

    def device_provisioned_before(self) -> bool:
        """An earlier push from this device, for this customer, ended provisioned."""
        return bool(self._read()[3])

    def _read(self) -> tuple[int, int, int, bool]:
        if self._answers is None:
            request = self.request
            # Attempts in the 24 hours up to and including this one, in creation order:
            # counting only requests created at or before this one makes the count
            # independent of the order in which concurrent requests are evaluated (the
            # k-th push of the day sees k).
            day = ProvisioningRequest.objects.filter(
                created_at__gt=request.created_at - timedelta(hours=24),
                created_at__lte=request.created_at)
            self._answers = ProvisioningRequest.objects.filter(pk=request.pk).values_list(
                _Count(live_tokens(request.customer_id, request.card_id).order_by().values("pk")),
                _Count(day.filter(customer_id=request.customer_id).values("pk")),
                _Count(day.filter(device_id=request.device_id).values("pk")),
                Exists(ProvisioningRequest.objects.filter(
                    customer_id=request.customer_id, device_id=request.device_id,
                    state=State.PROVISIONED).exclude(pk=request.pk)),
            ).get()
        return self._answers
