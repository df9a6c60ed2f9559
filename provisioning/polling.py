"""The validator of a provisioning request's API answer (core/conditional.py): the
columns its body is computed from, read narrowly for a poll or off a loaded row.

`VALIDATOR_FIELDS` must name every column ProvisioningRequestSerializer reads, its
token's included; tests/provisioning/test_conditional_get.py moves each of them and
sees the tag move. The wallet payload counts by a digest of its ciphertext, so a poll
never opens it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound

from core import conditional
from provisioning.models import ProvisioningRequest

# Bump when the body's fields change, so tags of the old shape stop matching.
SHAPE = "provisioning-request/1"

_OWN_FIELDS = (
    "id", "state", "wallet", "card_id", "card_last4", "device_id", "device_type",
    "device_os", "wallet_account_id", "otp_expires_at", "otp_attempts_left", "failure_code",
    "wallet_payload_erased_reason", "created_at", "updated_at",
)
_TOKEN_FIELDS = ("id", "state", "token_last4")
VALIDATOR_FIELDS = (*_OWN_FIELDS, "wallet_payload",
                    *(f"token__{name}" for name in _TOKEN_FIELDS))


def _etag(values: tuple) -> str:
    own, sealed, token = (values[:len(_OWN_FIELDS)], values[len(_OWN_FIELDS)],
                          values[len(_OWN_FIELDS) + 1:])
    return conditional.etag_of(SHAPE, (*own, conditional.sealed_digest(sealed), *token))


def current_etag(customer_id: str, request_id, *, message: str) -> str:
    """The tag of the customer's request as it is now, from one narrow query (a LEFT JOIN
    to its token); anyone else's request is a 404 like a missing one."""
    try:
        values = (ProvisioningRequest.objects
                  .filter(pk=request_id, customer_id=customer_id)
                  .values_list(*VALIDATOR_FIELDS).get())
    except (ProvisioningRequest.DoesNotExist, ValueError, ValidationError):
        raise NotFound(message) from None  # as core.lookups.owned_or_404 answers
    return _etag(values)


def etag_of_row(row: ProvisioningRequest) -> str:
    """The same tag off a row loaded with its token (call it before the body is built:
    the payload must still be sealed)."""
    sealed = row.__dict__.get("wallet_payload")
    token = getattr(row, "token", None)
    own = tuple(row.__dict__[name] for name in _OWN_FIELDS)
    token_values = (tuple(getattr(token, name) for name in _TOKEN_FIELDS) if token is not None
                    else (None,) * len(_TOKEN_FIELDS))
    return _etag((*own, sealed, *token_values))
