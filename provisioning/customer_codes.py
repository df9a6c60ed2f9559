"""What the wallet app is told when a push does not succeed: a small closed set of
customer-facing codes, each with a message safe to show.

The precise internal code (which rule fired, which outside system failed) stays on the
row (`failure_code`), in admin, in the transition log and in the logs. Telling the app
`sim_swap_recent` or `customer_velocity` would tell a fraudster which control stopped
them and what to wait out. This module is the one mapping; docs/runbook.md lists it row
by row and a test checks that every code the code base can write is in it.
"""

from __future__ import annotations

from django.db import models

from core.customer_codes import CodeTable


class CustomerCode(models.TextChoices):
    # The issuer (our rules or the card's status) or the token service said no.
    DECLINED_BY_ISSUER = "declined_by_issuer"
    # Something was down or slow; the same push may work later.
    TRY_AGAIN_LATER = "try_again_later"
    # Customer care must look (data or configuration problem, operations' action).
    CONTACT_SUPPORT = "contact_support"
    # The one-time code was not entered in time.
    OTP_EXPIRED = "otp_expired"
    # Wrong codes too many times (the customer knows they typed them).
    OTP_ATTEMPTS_EXHAUSTED = "otp_attempts_exhausted"
    # The customer withdrew the request.
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    # The card is already in this wallet on this device (as the 409 on create says).
    ALREADY_PROVISIONED = "already_provisioned"


MESSAGES: dict[str, str] = {
    CustomerCode.DECLINED_BY_ISSUER:
        "This card cannot be added to this wallet. Please contact M-Pesa customer care.",
    CustomerCode.TRY_AGAIN_LATER:
        "We could not add your card right now. Please try again later.",
    CustomerCode.CONTACT_SUPPORT:
        "We could not add your card. Please contact M-Pesa customer care.",
    CustomerCode.OTP_EXPIRED:
        "The verification code was not entered in time. Please start again.",
    CustomerCode.OTP_ATTEMPTS_EXHAUSTED:
        "The verification code was entered wrongly. Please start again.",
    CustomerCode.CANCELLED_BY_CUSTOMER: "You cancelled this request.",
    CustomerCode.ALREADY_PROVISIONED: "This card is already in this wallet on this device.",
}

_DECLINED = CustomerCode.DECLINED_BY_ISSUER
_LATER = CustomerCode.TRY_AGAIN_LATER
_SUPPORT = CustomerCode.CONTACT_SUPPORT

# Internal failure code → customer code. docs/runbook.md "Failure codes" has the same table.
FAILURE_CODES: dict[str, str] = {
    # The issuer host's own refusals.
    "issuer_ineligible": _DECLINED,
    "card_blocked": _DECLINED,
    "card_expired": _DECLINED,
    # The issuer's decisioning rules (decisioning/rules.py): all look alike to the app.
    "issuer_rules_declined": _DECLINED,
    "card_product_not_allowed": _DECLINED,
    "kyc_tier_too_low": _DECLINED,
    "sim_swap_recent": _DECLINED,
    "sim_swap_unknown": _DECLINED,
    "too_many_tokens": _DECLINED,
    "customer_velocity": _DECLINED,
    "device_velocity": _DECLINED,
    "new_device": _DECLINED,
    "rule_error": _DECLINED,
    # The token service said red.
    "token_service_declined": _DECLINED,
    # Outside systems down or slow after every retry (also the `*_timeout`,
    # `*_unavailable` and `*_circuit_open` of any system, below).
    "redrive_limit_reached": _LATER,
    "token_activation_failed": _LATER,
    "step_up_unreachable": _LATER,
    # Needs a person: bad data, a broken contract, our own configuration, operations.
    "card_not_found": _SUPPORT,
    "issuer_bad_response": _SUPPORT,
    "token_service_bad_response": _SUPPORT,
    "invalid_jwe": _SUPPORT,
    "card_mismatch": _SUPPORT,
    "step_up_no_number": _SUPPORT,
    "cancelled_by_operations": _SUPPORT,
    # The step-up the customer did not finish.
    "step_up_expired": CustomerCode.OTP_EXPIRED,
    "otp_attempts_exhausted": CustomerCode.OTP_ATTEMPTS_EXHAUSTED,
    "cancelled_by_customer": CustomerCode.CANCELLED_BY_CUSTOMER,
    "already_provisioned": CustomerCode.ALREADY_PROVISIONED,
}
# Codes made by core/outside/http.py for any system: `<system>_timeout`, ...; `http_<status>`
# is a refusal without a code of its own (our key, our request).
_SUFFIXES = {"_timeout": _LATER, "_unavailable": _LATER, "_circuit_open": _LATER}
_PREFIXES = {"http_": _SUPPORT}
# An unknown code (an outside system's new refusal, a new issuer reason) shows nothing
# specific and sends the customer to someone who can look.
DEFAULT = _SUPPORT


_TABLE = CodeTable(FAILURE_CODES, DEFAULT, suffixes=_SUFFIXES, prefixes=_PREFIXES)
is_mapped = _TABLE.is_mapped
customer_code = _TABLE.customer_code


def customer_failure(failure_code: str) -> dict[str, str] | None:
    """The API's `failure` object for a request's internal failure code (None: none)."""
    if not failure_code:
        return None
    code = customer_code(failure_code)
    return {"code": code, "message": MESSAGES[code]}
