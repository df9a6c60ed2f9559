"""Reads about earlier pushes that other apps are handed (they never query provisioning).

Decisioning's velocity and device rules ask these; with no enabled rule asking, they cost
no query.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from django.db import connection

from tokens.models import LIVE_STATES, Token

from .models import ProvisioningRequest, State


class PushHistory:
    """decisioning.rules.History for one provisioning request.

    The first rule that asks reads every answer in one statement (four scalar
    subqueries, each on its own index); the rules that follow read them from memory.
    The statement's text is built once per process: composing it with the ORM's nested
    subqueries cost ~1.5 ms of CPU per push (the profile in docs/performance.md), more
    than PostgreSQL spends running it.
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
            created = ProvisioningRequest._meta.get_field("created_at")
            since = created.get_db_prep_value(request.created_at - timedelta(hours=24),
                                              connection)
            until = created.get_db_prep_value(request.created_at, connection)
            pk = ProvisioningRequest._meta.pk.get_db_prep_value(request.pk, connection)
            params = [request.customer_id, request.card_id, *LIVE_STATES,
                      request.customer_id, since, until,
                      request.device_id, since, until,
                      request.customer_id, request.device_id, State.PROVISIONED, pk]
            with connection.cursor() as cursor:
                cursor.execute(_facts_sql(), params)
                tokens, by_customer, by_device, provisioned_before = cursor.fetchone()
            self._answers = (tokens, by_customer, by_device, bool(provisioned_before))
        return self._answers


@functools.cache
def _facts_sql() -> str:
    quote = connection.ops.quote_name
    requests, tokens = ProvisioningRequest._meta, Token._meta

    def col(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    pr, tk = quote(requests.db_table), quote(tokens.db_table)
    live = ", ".join(["%s"] * len(LIVE_STATES))
    in_day = f"{col(requests, 'created_at')} > %s AND {col(requests, 'created_at')} <= %s"
    return (
        f"SELECT (SELECT COUNT(*) FROM {tk} WHERE {col(tokens, 'customer_id')} = %s "
        f"AND {col(tokens, 'card_id')} = %s AND {col(tokens, 'state')} IN ({live})), "
        f"(SELECT COUNT(*) FROM {pr} WHERE {col(requests, 'customer_id')} = %s AND {in_day}), "
        f"(SELECT COUNT(*) FROM {pr} WHERE {col(requests, 'device_id')} = %s AND {in_day}), "
        f"EXISTS (SELECT 1 FROM {pr} WHERE {col(requests, 'customer_id')} = %s "
        f"AND {col(requests, 'device_id')} = %s AND {col(requests, 'state')} = %s "
        f"AND {quote(requests.pk.column)} <> %s)")
