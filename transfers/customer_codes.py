"""What the sender is shown when a transfer does not go through: a small closed set of
customer-facing codes, each with the API's message and the rejection notice's reason key.

The precise internal code (`sanctions_hit`, which rule said red, which outside system
failed) stays on the row (`failure_code`), in admin, in the transition log and in the
logs. A customer is never told that a name was screened or which control stopped them: a
screening hit, an enforced rule's red and an operator's rejection all read
`transfer_not_allowed` / "cannot be made". This module is the one mapping, used by the API
(transfers/api/serializers.py) and the rejection notice (transfers/receivers.py); a test
checks that every code the transfers flow can write is in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from core.customer_codes import CodeTable


class CustomerCode(models.TextChoices):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    # The card stopped taking push payments since the payee was added.
    CARD_CANNOT_RECEIVE = "card_cannot_receive"
    LIMIT_EXCEEDED = "limit_exceeded"
    PAYEE_DELETED = "payee_deleted"
    # Screening, an enforced decisioning rule, or operations said no: all look alike.
    TRANSFER_NOT_ALLOWED = "transfer_not_allowed"
    # The OCT was declined or refused; the hold was released (the money came back).
    DECLINED_BY_NETWORK = "declined_by_network"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    # Something was down or slow before money moved; the same transfer may work later.
    TRY_AGAIN_LATER = "try_again_later"


@dataclass(frozen=True)
class CustomerFailure:
    message: str
    # The key of notifications/templates.py's rejection reasons; None where the transfer
    # cannot end `rejected` this way (a decline has its own notice, a cancel sends none).
    reason: str | None


FAILURES: dict[str, CustomerFailure] = {
    CustomerCode.INSUFFICIENT_FUNDS: CustomerFailure(
        "Your M-Pesa balance cannot cover this transfer and its fee.", "insufficient_funds"),
    CustomerCode.CARD_CANNOT_RECEIVE: CustomerFailure(
        "This card can no longer receive money transfers.", "card_cannot_receive"),
    CustomerCode.LIMIT_EXCEEDED: CustomerFailure(
        "This transfer is above your limit.", "limit_exceeded"),
    CustomerCode.PAYEE_DELETED: CustomerFailure("The payee was deleted.", "payee_deleted"),
    CustomerCode.TRANSFER_NOT_ALLOWED: CustomerFailure(
        "This transfer cannot be made.", "cannot_be_made"),
    CustomerCode.DECLINED_BY_NETWORK: CustomerFailure(
        "The card could not be paid; the money was returned to M-Pesa.", None),
    CustomerCode.CANCELLED_BY_CUSTOMER: CustomerFailure("The transfer was cancelled.", None),
    CustomerCode.TRY_AGAIN_LATER: CustomerFailure(
        "We could not complete this transfer right now. Please try again later.", "try_again"),
}

_NOT_ALLOWED = CustomerCode.TRANSFER_NOT_ALLOWED
_DECLINED = CustomerCode.DECLINED_BY_NETWORK
_LATER = CustomerCode.TRY_AGAIN_LATER

# Internal failure code (the part before any ":") → customer code. docs/transfers.md
# "Failure codes" lists the same.
FAILURE_CODES: dict[str, str] = {
    "insufficient_funds": CustomerCode.INSUFFICIENT_FUNDS,
    "card_cannot_receive": CustomerCode.CARD_CANNOT_RECEIVE,
    "limit_exceeded": CustomerCode.LIMIT_EXCEEDED,
    "payee_deleted": CustomerCode.PAYEE_DELETED,
    # The checks' and operations' refusals (transfers/checks.py, services.reject_review).
    "sanctions_hit": _NOT_ALLOWED,
    "transfer_not_allowed": _NOT_ALLOWED,  # an enforced decisioning rule said red
    "review_rejected": _NOT_ALLOWED,
    # The network's answer to the OCT: `network_declined:<reason>`, `payout_refused:<code>`.
    "network_declined": _DECLINED,
    "payout_refused": _DECLINED,
    "cancelled_by_customer": CustomerCode.CANCELLED_BY_CUSTOMER,
    # Beat re-drove a transfer that never moved, before money moved.
    "redrive_limit_reached": _LATER,
    # Raised only with money held (the OCT's card is gone), where nothing fails the
    # transfer on it (beat, then operations); listed so the table, not the default, says.
    "payee_card_erased": _LATER,
}
# Codes made by core/outside for any system (`mpesa_timeout`, `screening_unavailable`,
# `payouts_circuit_open`, `http_<status>`) and the clients' `<system>_bad_response`: all
# before money moved (after, the transfer waits for beat and never fails on them).
_SUFFIXES = {"_timeout": _LATER, "_unavailable": _LATER, "_circuit_open": _LATER,
             "_bad_response": _LATER}
_PREFIXES = {"http_": _LATER}
# An unknown code (an outside system's new refusal) names nothing and invites a retry.
DEFAULT = _LATER
DEFAULT_REASON = FAILURES[DEFAULT].reason
# The states whose failure the API shows (a transfer still moving has none yet).
SHOWN_STATES = frozenset({"rejected", "declined", "cancelled"})


_TABLE = CodeTable(FAILURE_CODES, DEFAULT, suffixes=_SUFFIXES, prefixes=_PREFIXES,
                   detail_separator=":")
is_mapped = _TABLE.is_mapped
customer_code = _TABLE.customer_code


def customer_failure(failure_code: str, state: str) -> dict[str, str] | None:
    """The API's `failure` object for a transfer (None while it has not failed). A
    declined transfer's money came back whatever the network's code said."""
    if not failure_code or state not in SHOWN_STATES:
        return None
    code = _DECLINED if state == "declined" else customer_code(failure_code)
    return {"code": str(code), "message": FAILURES[code].message}


def rejection_reason(failure_code: str) -> str:
    """The reason key of the rejection notice (notifications/templates.py)."""
    return FAILURES[customer_code(failure_code)].reason or DEFAULT_REASON
