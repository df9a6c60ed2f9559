"""The app sees a small closed set of customer-facing failure codes; the precise internal
code (which rule or outside system said no) stays on the row, in admin and in the logs.

The completeness test reads the code base itself: every failure code a transition,
a service, a rule or an outside-system client can write must map to a customer code by
the one table in provisioning/customer_codes.py, and the runbook must say so.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from decisioning.models import RuleResult
from notifications import templates
from notifications.models import Locale, TemplateKey
from provisioning import customer_codes
from provisioning.models import State
from tests.factories import ProvisioningRequestFactory
from tests.ast_scan import call_name, outside_error_codes, string_constant, strings_in

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/provisioning-requests"
# Where failure codes are written: the two apps that move requests, the rules, the shared
# outside-call plumbing. (Notification codes live on notifications, not on requests.)
# decisioning/transfer_rules.py judges transfers only (its verdicts never reach a request).
SCANNED = [*sorted((ROOT / "provisioning").rglob("*.py")), *sorted((ROOT / "tokens").rglob("*.py")),
           *sorted(path for path in (ROOT / "decisioning").rglob("*.py")
                   if path.name != "transfer_rules.py"),
           *sorted((ROOT / "core" / "outside").rglob("*.py"))]
# Transitions that set failure_code, and the services that pass a code on to them.
FAILURE_WRITERS = {"mark_ineligible", "decline", "expire", "cancel", "fail"}
CODE_ARGUMENT = {"fail_request": 1, "decline_step_up": 1, "end_unreachable_step_up": 1,
                 "_end_unreachable": 1}
OUTSIDE_ERRORS = {"OutsideError", "TransientError", "PermanentError", "OutsideTimeout"}
# Systems whose errors can fail a request (telco errors become `sim_swap_unknown`).
REQUEST_SYSTEMS = ("issuer", "token_service")
# Words that name a control; no customer-facing text may contain them.
CONTROL_WORDS = ("sim", "swap", "velocity", "kyc", "tier", "rule", "risk", "fraud", "telco",
                 "too many", "attempts_24h", "device_velocity")


def _modules():
    for path in SCANNED:
        if "migrations" in path.parts:
            continue
        yield path, ast.parse(path.read_text(), filename=str(path))


def _outside_error_classes(trees) -> set[str]:
    classes = set(OUTSIDE_ERRORS)
    grown = True
    while grown:
        grown = False
        for _, tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in classes and any(
                        call_name(base) in classes for base in node.bases):
                    classes.add(node.name)
                    grown = True
    return classes


def codes_the_code_base_can_write() -> set[str]:
    trees = list(_modules())
    errors = _outside_error_classes(trees)
    codes: set[str] = set()
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = call_name(node.func)
                if name in FAILURE_WRITERS or name in CODE_ARGUMENT:
                    for keyword in node.keywords:
                        if keyword.arg == "reason":
                            codes.update(strings_in(keyword.value))
                if name in CODE_ARGUMENT and len(node.args) > CODE_ARGUMENT[name]:
                    codes.update(strings_in(node.args[CODE_ARGUMENT[name]]))
                if name == "Verdict" and len(node.args) > 1:
                    codes.update(strings_in(node.args[1]))
                if name in errors and node.args:
                    codes.update(outside_error_codes(node.args[0], REQUEST_SYSTEMS))
            if isinstance(node, ast.FunctionDef) and node.name in FAILURE_WRITERS \
                    and path.name == "models.py":
                # Defaults of the transitions' own `reason` and fallbacks in their bodies.
                for default in [*node.args.defaults, *node.args.kw_defaults]:
                    codes.update(filter(None, [string_constant(default)]))
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Assign) and any(
                            getattr(t, "attr", "") == "failure_code" for t in inner.targets):
                        codes.update(filter(None, (string_constant(n) for n in ast.walk(inner.value))))
    return codes - {"by"}


def runbook_request_codes() -> dict[str, str]:
    """{internal code: customer code} from the runbook's failure-code table, request rows."""
    text = (ROOT / "docs" / "runbook.md").read_text()
    table = text[text.index("## Failure codes"):text.index("## Useful queries")]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 6 or "request" not in cells[1]:
            continue
        codes = re.findall(r"`([a-z0-9_]+)`", cells[0])
        customer = re.findall(r"`([a-z_]+)`", cells[2])
        if codes and customer:
            rows[codes[0]] = customer[0]
    return rows


def test_the_scan_finds_the_codes_it_is_meant_to_find():
    found = codes_the_code_base_can_write()
    # One of each source: a transition default, a service call, a rule, an outside error.
    assert {"token_service_declined", "redrive_limit_reached", "sim_swap_recent",
            "issuer_timeout", "token_service_bad_response", "step_up_unreachable",
            "step_up_no_number", "cancelled_by_operations"} <= found


def test_every_failure_code_the_code_base_can_write_maps_to_a_customer_code():
    found = codes_the_code_base_can_write() | set(runbook_request_codes())
    unmapped = sorted(code for code in found if not customer_codes.is_mapped(code))
    assert unmapped == []


def test_the_runbook_states_the_customer_code_of_every_request_failure():
    rows = runbook_request_codes()
    undocumented = sorted(code for code in codes_the_code_base_can_write()
                          if code not in rows and not code.startswith("http_"))
    assert undocumented == []
    wrong = {code: (documented, customer_codes.customer_code(code))
             for code, documented in rows.items()
             if documented != customer_codes.customer_code(code)}
    assert wrong == {}


def test_customer_codes_are_a_small_closed_set_each_with_a_message():
    codes = set(customer_codes.CustomerCode.values)
    assert {"declined_by_issuer", "try_again_later", "contact_support"} <= codes
    assert len(codes) <= 8
    assert set(customer_codes.MESSAGES) == codes
    assert set(customer_codes.FAILURE_CODES.values()) <= codes
    contract = (ROOT / "docs" / "wire-contract.md").read_text()
    assert all(f"`{code}`" in contract for code in codes)


@pytest.mark.parametrize("code", ["", "brand_new_issuer_reason", "card_lost", "http_418"])
def test_an_unknown_failure_code_maps_to_a_safe_default(code):
    assert customer_codes.customer_code(code) == "contact_support"


@pytest.mark.parametrize("code", [*customer_codes.FAILURE_CODES, "issuer_timeout",
                                  "token_service_unavailable"])
def test_no_customer_message_names_a_control(code):
    message = customer_codes.MESSAGES[customer_codes.customer_code(code)].lower()
    assert not any(word in message for word in CONTROL_WORDS)
    assert code not in message


@pytest.mark.django_db
@pytest.mark.parametrize("state,internal,customer", [
    (State.INELIGIBLE, "sim_swap_recent", "declined_by_issuer"),
    (State.INELIGIBLE, "sim_swap_unknown", "declined_by_issuer"),
    (State.INELIGIBLE, "customer_velocity", "declined_by_issuer"),
    (State.INELIGIBLE, "card_blocked", "declined_by_issuer"),
    (State.DECLINED, "token_service_declined", "declined_by_issuer"),
    (State.FAILED, "token_service_timeout", "try_again_later"),
    (State.FAILED, "card_not_found", "contact_support"),
    (State.EXPIRED, "step_up_expired", "otp_expired"),
    (State.DECLINED, "otp_attempts_exhausted", "otp_attempts_exhausted"),
])
def test_the_api_shows_the_customer_code_and_the_row_keeps_the_precise_one(
        api_client, customer_id, state, internal, customer):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=state,
                                         failure_code=internal,
                                         failure_message=f"internal detail of {internal}")
    for body in (api_client.get(f"{URL}/{request.pk}").json(),
                 api_client.get(URL).json()["results"][0]):
        assert body["failure"] == {"code": customer,
                                   "message": customer_codes.MESSAGES[customer]}
        assert internal not in str(body) or internal == customer
        assert "internal detail" not in str(body)
    request.refresh_from_db()
    assert request.failure_code == internal


@pytest.mark.django_db
def test_no_api_field_names_the_rule_that_fired(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.INELIGIBLE,
                                         issuer_decision="red", failure_code="customer_velocity",
                                         decision_reasons=["customer_velocity", "sim_swap_recent"])
    RuleResult.objects.create(request=request, rule_key="attempts-per-customer",
                              rule_kind="attempts_per_customer", rule_version=1, mode="enforce",
                              outcome="red", reason_code="customer_velocity",
                              inputs={"attempts_24h": 21, "max": 20})
    detail = api_client.get(f"{URL}/{request.pk}").json()
    listed = api_client.get(URL).json()["results"][0]
    for body in (detail, listed):
        assert "decision" not in body
        text = str(body).lower()
        assert not any(word in text for word in ("velocity", "sim_swap", "attempts_24h"))


@pytest.mark.parametrize("locale", Locale.values)
@pytest.mark.parametrize("template_key", [key for key in TemplateKey.values
                                          if key != TemplateKey.STEP_UP_CODE])
def test_no_customer_notification_names_a_control(locale, template_key):
    # A transfer's messages need its values too (a rejection's reason: the one a screening
    # hit reads, the likeliest to give a control away).
    message = templates.render(template_key, locale, {
        "wallet": "google_pay", "card_last4": "1111", "amount": 150_000, "fee": 3_050,
        "total": 153_050, "currency": "KES", "delivery": "instant",
        "payee_name": "JANE WANJIKU", "payee_last4": "0010", "reason": "cannot_be_made"})
    text = f"{message.title} {message.body}".lower()
    assert not any(re.search(rf"\b{re.escape(word)}\b", text) for word in CONTROL_WORDS)
