"""The validator of a transfer's API answer (core/conditional.py): the columns its body
is computed from, read narrowly for a poll or off a loaded row.

`VALIDATOR_FIELDS` must name every column TransferSerializer reads, its payee's
included; tests/transfers/test_conditional_get.py moves each of them and sees the tag
move.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound

from core import conditional
from transfers.models import Transfer

# Bump when the body's fields change, so tags of the old shape stop matching.
SHAPE = "transfer/1"
NO_SUCH_TRANSFER = "No such transfer."  # the words of services.get_customer_transfer's 404

_OWN_FIELDS = ("id", "state", "amount", "fee", "total", "currency", "delivery", "quote_id",
               "failure_code", "created_at", "updated_at", "state_changed_at", "payee_id")
_PAYEE_FIELDS = ("name", "last4")
VALIDATOR_FIELDS = (*_OWN_FIELDS, *(f"payee__{name}" for name in _PAYEE_FIELDS))


def current_etag(customer_id: str, transfer_id, *, message: str) -> str:
    """The tag of the customer's transfer as it is now, from one narrow query (a join to
    its payee); anyone else's transfer is a 404 like a missing one."""
    try:
        values = (Transfer.objects.filter(pk=transfer_id, customer_id=customer_id)
                  .values_list(*VALIDATOR_FIELDS).get())
    except (Transfer.DoesNotExist, ValueError, ValidationError):
        raise NotFound(message) from None
    return conditional.etag_of(SHAPE, values)


def etag_of_row(row: Transfer) -> str:
    """The same tag off a transfer loaded with its payee."""
    own = tuple(row.__dict__[name] for name in _OWN_FIELDS)
    return conditional.etag_of(SHAPE, (*own, *(getattr(row.payee, name)
                                                for name in _PAYEE_FIELDS)))
