"""The one way to load a customer's own row: anyone else's is indistinguishable from a
missing one, and an id that is not even well formed is a 404 too, never a 500."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from .errors import NotFound


def owned_or_404(queryset: QuerySet, pk, *, customer_id: str | None, message: str) -> Model:
    """`queryset.get(pk=pk)`, limited to `customer_id` when one is given (the app's
    calls; operations in admin pass None and may load any row)."""
    filters = {"pk": pk}
    if customer_id is not None:
        filters["customer_id"] = customer_id
    try:
        return queryset.get(**filters)
    except (queryset.model.DoesNotExist, ValueError, ValidationError):
        raise NotFound(message) from None
