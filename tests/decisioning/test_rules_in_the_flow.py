"""Issuer decisioning through the provisioning services: the most restrictive of the
issuer's and the token service's decisions wins, a red ends the request before the token
service is asked, and what the API and the admin show of the rules."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.models import Trigger
from decisioning.models import DecisionRule, DecisionRuleVersion, RuleResult
from provisioning import services
from provisioning.models import ProvisioningRequest, State
from tests.decisioning.rules_support import (  # noqa: F401  (telco: an autouse fixture)
    ELIGIBLE,
    only,
    set_params,
    telco,
)
from tests.factories import ProvisioningRequestFactory, staff_member
from tokens.models import Token
from tokens.token_service import Decision


# --- through the services: rules + the token service's decision ------------------------

class Issuer:
    def check_eligibility(self, **kwargs):
        return ELIGIBLE


def _checked(monkeypatch, **fields) -> ProvisioningRequest:
    """A received request put through the eligibility check (the issuer says eligible); the
    row as stored after it."""
    monkeypatch.setattr(services, "IssuerClient", Issuer)
    request = ProvisioningRequestFactory(state=State.RECEIVED, **fields)
    services.check_eligibility(request.pk)
    return ProvisioningRequest.objects.get(pk=request.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("issuer_yellow,tsp,expected", [
    (False, "green", State.PROVISIONED),
    (False, "yellow", State.STEP_UP_REQUIRED),
    (False, "red", State.DECLINED),
    (True, "green", State.STEP_UP_REQUIRED),
    (True, "yellow", State.STEP_UP_REQUIRED),
    (True, "red", State.DECLINED),
])
def test_the_most_restrictive_of_issuer_and_token_service_wins(monkeypatch, issuer_yellow,
                                                               tsp, expected):
    # The new-device rule is the issuer's yellow here: the SIM-swap rule never steps up.
    if issuer_yellow:
        only("new-device")
    else:
        only()
    stored = _checked(monkeypatch, customer_msisdn="+254700000100")
    assert stored.state == State.ELIGIBLE
    with transaction.atomic():
        stored.mark_token_requested(by=Trigger.WORKER)
        stored.save()
    token_ref = None if tsp == "red" else f"tkn_{stored.pk.hex[:8]}"
    services.apply_decision(stored.pk, Decision(tsp, token_ref, None, "1234", "12/29", None),
                            by=Trigger.WORKER)
    final = ProvisioningRequest.objects.get(pk=stored.pk)
    assert final.state == expected
    if issuer_yellow:
        assert "new_device" in final.decision_reasons


@pytest.mark.django_db
def test_a_recent_sim_swap_ends_ineligible_before_the_token_service_is_asked(monkeypatch, telco):
    only("sim-swap")
    telco.swapped_hours_ago = 1
    stored = _checked(monkeypatch)
    assert (stored.state, stored.failure_code) == (State.INELIGIBLE, "sim_swap_recent")
    assert not Token.objects.filter(provisioning_request=stored).exists()


@pytest.mark.django_db
def test_issuer_red_ends_ineligible_with_the_reason_and_the_rule_results(monkeypatch, telco):
    only("sim-swap", "kyc-tier")
    set_params("sim-swap", decline_within_hours=24)
    telco.swapped_hours_ago = 1
    stored = _checked(monkeypatch)
    assert (stored.state, stored.failure_code) == (State.INELIGIBLE, "sim_swap_recent")
    assert sorted(RuleResult.objects.filter(request=stored).values_list("rule_key", "outcome")) \
        == [("kyc-tier", "green"), ("sim-swap", "red")]


@pytest.mark.django_db
def test_api_shows_neither_the_rule_nor_its_inputs(api_client, customer_id):
    request = ProvisioningRequestFactory(customer_id=customer_id, state=State.INELIGIBLE,
                                         issuer_decision="red", failure_code="sim_swap_recent",
                                         failure_message="issuer rules declined",
                                         decision_reasons=["sim_swap_recent"])
    RuleResult.objects.create(request=request, rule_key="sim-swap", rule_kind="sim_swap",
                              rule_version=1, mode="enforce", outcome="red",
                              reason_code="sim_swap_recent", inputs={"last_swap_hours": 1.25})
    body = api_client.get(f"/api/v1/provisioning-requests/{request.pk}").json()
    assert body["failure"]["code"] == "declined_by_issuer"
    assert "decision" not in body
    text = str(body)
    assert "sim_swap" not in text and "last_swap_hours" not in text and "1.25" not in text


@pytest.mark.django_db
def test_support_sees_every_rule_result_with_its_inputs_on_the_request_page(client):
    client.force_login(staff_member("support_wanjiru", "support"))
    request = ProvisioningRequestFactory(state=State.STEP_UP_REQUIRED, issuer_decision="yellow",
                                         decision_reasons=["sim_swap_recent"])
    RuleResult.objects.create(request=request, rule_key="sim-swap", rule_kind="sim_swap",
                              rule_version=3, mode="enforce", outcome="yellow",
                              reason_code="sim_swap_recent", inputs={"last_swap_hours": 1.25})
    page = client.get(f"/admin/provisioning/provisioningrequest/{request.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "sim-swap" in html and "sim_swap_recent" in html and "1.25" in html


@pytest.mark.django_db
def test_only_operations_may_edit_a_rule(client):
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    url = f"/admin/decisioning/decisionrule/{rule.pk}/change/"
    client.force_login(staff_member("support_x", "support"))
    # A tighter limit: it applies at once (a weakening edit waits for a second person).
    form = {"key": "attempts-per-customer", "kind": "attempts_per_customer",
            "description": "", "enabled": "on", "mode": "enforce",
            "params": '{"max": 10, "outcome": "red"}',
            # the read-only versions inline still posts its management form
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"}
    client.post(url, form)
    assert DecisionRule.objects.get(pk=rule.pk).version == 1
    client.force_login(staff_member("ops_x", "operations"))
    response = client.post(url, form)
    assert response.status_code == 302
    edited = DecisionRule.objects.get(pk=rule.pk)
    assert (edited.version, edited.updated_by, edited.params) == (
        2, "ops_x", {"max": 10, "outcome": "red"})
    assert DecisionRuleVersion.objects.filter(rule=rule, version=2, changed_by="ops_x").exists()
