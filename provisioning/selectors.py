"""Reads about earlier pushes that other apps are handed (they never query provisioning).

Decisioning's velocity and device rules ask these; each answer is computed only when an
enabled rule asks for it, so a disabled rule costs no query.
"""

from __future__ import annotations

from datetime import timedelta

from tokens.services import live_token_count

from .models import ProvisioningRequest, State


class PushHistory:
    """decisioning.rules.History for one provisioning request."""

    def __init__(self, request: ProvisioningRequest):
        self.request = request

    def live_tokens_for_card(self) -> int:
        return live_token_count(self.request.customer_id, self.request.card_id)

    def attempts_by_customer(self) -> int:
        return self._attempts_before(customer_id=self.request.customer_id)

    def attempts_by_device(self) -> int:
        return self._attempts_before(device_id=self.request.device_id)

    def device_provisioned_before(self) -> bool:
        """An earlier push from this device, for this customer, ended provisioned."""
        return ProvisioningRequest.objects.filter(
            customer_id=self.request.customer_id, device_id=self.request.device_id,
            state=State.PROVISIONED,
        ).exclude(pk=self.request.pk).exists()

    def _attempts_before(self, **scope) -> int:
        """Attempts in the 24 hours up to and including this one, in creation order.

        Counting only requests created at or before this one makes the count independent
        of the order in which concurrent requests are evaluated: the k-th push of the day
        sees k.
        """
        created_at = self.request.created_at
        return ProvisioningRequest.objects.filter(
            created_at__gt=created_at - timedelta(hours=24), created_at__lte=created_at,
            **scope,
        ).count()
