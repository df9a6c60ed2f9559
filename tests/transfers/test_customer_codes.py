"""A transfer's sender sees a small closed set of customer-facing failure codes, in the
API and in the rejection notice alike; the precise internal code (a screening hit, the
rule that said red, the outside system that failed) stays on the row.

The completeness test reads the transfers flow itself: every failure code a transition,
a step or an outside-system client can write must map to a customer code by the one table
in transfers/customer_codes.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.db import transaction

from core.models import Trigger
from notifications import templates
from notifications.models import Locale, Notification, TemplateKey
from transfers import customer_codes
from transfers.models import State
from tests.ast_scan import call_name, outside_error_codes, string_constant, strings_in

from .factories import PayeeFactory, TransferFactory

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [*sorted((ROOT / "transfers").rglob("*.py")),
           *sorted((ROOT / "core" / "outside").rglob("*.py"))]
# Calls that end a transfer with a failure code, and where the code is in each.
ENDINGS = {"reject", "cancel", "decline", "give_up_hold"}
OUTSIDE_ERRORS = {"OutsideError", "TransientError", "PermanentError", "OutsideTimeout"}
# Systems whose errors can end a transfer before money moved.
TRANSFER_SYSTEMS = ("mpesa", "attributes", "payouts", "transaction_search", "screening")
# Words that name a control or a screening; no customer-facing text may contain them.
CONTROL_WORDS = ("sanction", "screen", "watchlist", "velocity", "rule", "risk", "fraud",
                 "review", "kyc", "tier", "mule", "senders", "new cards")


def _leading_text(node: ast.JoinedStr) -> str:
    first = node.values[0] if node.values else None
    return first.value if isinstance(first, ast.Constant) else ""


def codes_the_transfers_flow_can_write() -> set[str]:
    trees = [(path, ast.parse(path.read_text(), filename=str(path)))
             for path in SCANNED if "migrations" not in path.parts]
    codes: set[str] = set()
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and call_name(node.func) in ENDINGS:
                keywords = {k.arg: k.value for k in node.keywords}
                # `code=` is the failure code when given (then `reason` is the log's why).
                written = keywords.get("code", keywords.get("reason"))
                if written is not None:
                    codes.update(strings_in(written))
                elif len(node.args) > 1:  # steps.reject(transfer_id, code, message, ...)
                    codes.update(filter(None, [string_constant(node.args[1])]))
            if isinstance(node, ast.Call) and call_name(node.func) in OUTSIDE_ERRORS and node.args:
                codes.update(outside_error_codes(node.args[0], TRANSFER_SYSTEMS))
            if isinstance(node, ast.Assign) and any(
                    getattr(t, "attr", "") == "failure_code" for t in node.targets):
                if isinstance(node.value, ast.Subscript):  # f"network_declined:{...}"[:64]
                    value = node.value.value
                else:
                    value = node.value
                if isinstance(value, ast.JoinedStr):
                    codes.add(_leading_text(value))
                else:
                    codes.update(strings_in(value))
            if isinstance(node, ast.FunctionDef) and node.name in ENDINGS \
                    and path.name == "models.py":
                for default in [*node.args.defaults, *node.args.kw_defaults]:
                    codes.update(filter(None, [string_constant(default)]))
    return codes


def test_the_scan_finds_the_codes_it_is_meant_to_find():
    found = codes_the_transfers_flow_can_write()
    # One of each source: a check, a rule, an operator, a step, an f-string, an outside error.
    assert {"sanctions_hit", "transfer_not_allowed", "review_rejected", "insufficient_funds",
            "payee_deleted", "card_cannot_receive", "redrive_limit_reached",
            "cancelled_by_customer", "network_declined", "network_declined:",
            "payout_refused:", "mpesa_timeout", "screening_unavailable",
            "attributes_bad_response"} <= found


def test_every_code_that_can_end_a_transfer_maps_to_a_customer_code():
    unmapped = sorted(code for code in codes_the_transfers_flow_can_write()
                      if not customer_codes.is_mapped(code))
    assert unmapped == []


def test_customer_codes_are_a_small_closed_set_each_with_a_message_and_a_real_reason():
    codes = set(customer_codes.CustomerCode.values)
    assert len(codes) <= 8
    assert set(customer_codes.FAILURES) == codes
    assert set(customer_codes.FAILURE_CODES.values()) <= codes
    reasons = {failure.reason for failure in customer_codes.FAILURES.values()} - {None}
    for locale in Locale.values:
        assert reasons <= set(templates._REASONS[locale])
    # Every code a rejection can carry has a reason of its own or the default.
    assert customer_codes.DEFAULT_REASON in reasons


@pytest.mark.parametrize("code", ["", "brand_new_refusal", "http_418", "ledger_confused"])
def test_an_unknown_failure_code_invites_a_retry(code):
    assert customer_codes.customer_code(code) == "try_again_later"
    assert customer_codes.rejection_reason(code) == "try_again"


@pytest.mark.parametrize("code", sorted(codes_the_transfers_flow_can_write()))
def test_no_customer_text_names_a_control_or_the_internal_code(code):
    customer = customer_codes.customer_code(code)
    failure = customer_codes.FAILURES[customer]
    shown = f"{customer} {failure.message} {customer_codes.rejection_reason(code)}".lower()
    assert not any(word in shown for word in CONTROL_WORDS)
    if code not in customer_codes.CustomerCode.values:
        assert code.rstrip(":") not in shown


@pytest.mark.parametrize("code", ["sanctions_hit", "transfer_not_allowed", "review_rejected"])
def test_a_screening_hit_a_rule_and_an_operator_read_alike(code):
    assert customer_codes.customer_failure(code, State.REJECTED) == {
        "code": "transfer_not_allowed", "message": "This transfer cannot be made."}
    assert customer_codes.rejection_reason(code) == "cannot_be_made"


@pytest.mark.parametrize("code", ["network_declined", "network_declined:05",
                                  "payout_refused:invalid_card"])
def test_a_declined_transfer_reads_declined_by_network(code):
    assert customer_codes.customer_code(code) == "declined_by_network"
    assert customer_codes.customer_failure(code, State.DECLINED)["code"] == "declined_by_network"


@pytest.mark.parametrize("state", [State.RECEIVED, State.SUBMITTED, State.NEEDS_ATTENTION,
                                   State.COMPLETED])
def test_a_transfer_that_has_not_failed_shows_no_failure(state):
    assert customer_codes.customer_failure("payout_refused:invalid_card", state) is None


@pytest.mark.django_db
def test_the_api_and_the_notice_of_a_sanctions_hit_name_no_screening(api_client, customer_id):
    transfer = TransferFactory(quote__payee=PayeeFactory(customer_id=customer_id),
                               state=State.RECEIVED)
    with transaction.atomic():
        transfer.reject(by=Trigger.WORKER, reason="sanctions_hit",
                        message="screened: WATCHLIST match 98%")
        transfer.save()
    body = api_client.get(f"/api/v1/transfers/{transfer.pk}").json()
    assert body["failure"] == {"code": "transfer_not_allowed",
                               "message": "This transfer cannot be made."}
    notification = Notification.objects.get(object_id=transfer.pk)
    assert notification.context["reason"] == "cannot_be_made"
    text = " ".join([str(body), *(
        f"{m.title} {m.body}" for m in (templates.render(TemplateKey.TRANSFER_REJECTED, locale,
                                                          notification.context)
                                        for locale in Locale.values))]).lower()
    assert not re.search(r"sanction|screen|watchlist", text)
    transfer.refresh_from_db()
    assert transfer.failure_code == "sanctions_hit"
