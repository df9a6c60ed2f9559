"""Checks every API serializer shares: a free-form string the API stores (an id, a token,
a header) never holds a card number, so a careless app cannot put a PAN at rest.

The detector is the redaction filter's (core.observability.redaction.contains_pan): what the logs
would mask, the API refuses. The error names the field, never the value.
"""

from __future__ import annotations

from rest_framework import serializers

from core.errors import PanNotAllowed
from core.observability.redaction import contains_pan

PAN_MESSAGE = "A card number is not allowed here."


def refuse_card_number(value) -> None:
    """DRF field validator; the API answers 400 `pan_not_allowed` naming the field."""
    if isinstance(value, str) and contains_pan(value):
        raise serializers.ValidationError(PAN_MESSAGE, code=PanNotAllowed.code)


def refuse_card_number_in_header(name: str, value: str | None) -> None:
    if value and contains_pan(value):
        raise PanNotAllowed(f"A card number is not allowed in the {name} header.",
                            details={"header": name})


# An Idempotency-Key: printable ASCII, no space at either end, at most 255 characters (the
# API schema carries the same pattern for every operation that takes one).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
