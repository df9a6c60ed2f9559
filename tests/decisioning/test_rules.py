"""Issuer decisioning: each rule at its boundaries, the telco down, shadow mode,
versioning, and velocity under concurrency. (Combined with the token service's outcomes,
through the services: test_rules_in_the_flow.py.)

The SIM-swap rule only ever declines or passes: a one-time code sent by SMS to a number
whose SIM was just swapped reaches the attacker, so it can never be the step-up."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from decisioning import services as decisioning
from decisioning.models import DecisionRule, DecisionRuleVersion, Mode, RuleChange, RuleResult
from provisioning.issuer import Eligibility
from provisioning.models import ProvisioningRequest, State
from tests.decisioning.rules_support import (  # noqa: F401  (telco: an autouse fixture)
    evaluate,
    only,
    set_params,
    telco,
)
from tests.factories import ProvisioningRequestFactory, TokenFactory
from tokens.models import TokenState


@pytest.mark.django_db
@pytest.mark.parametrize("hours,expected", [(0.5, "red"), (167.9, "red"), (168.1, "green"),
                                            (None, "green")])
def test_sim_swap_within_the_default_window_declines_and_never_steps_up(telco, hours, expected):
    only("sim-swap")
    telco.swapped_hours_ago = hours
    decision = evaluate()
    assert decision.outcome == expected
    assert decision.reason_codes == (["sim_swap_recent"] if expected == "red" else [])


@pytest.mark.django_db
@pytest.mark.parametrize("hours,expected", [(23.9, "red"), (24.1, "green"), (200, "green")])
def test_operations_tune_the_decline_window(telco, hours, expected):
    only("sim-swap")
    rule = DecisionRule.objects.get(key="sim-swap")
    rule.params = {"decline_within_hours": 24, "on_lookup_failure": "red"}
    rule.save()
    telco.swapped_hours_ago = hours
    assert evaluate().outcome == expected


@pytest.mark.django_db
@pytest.mark.parametrize("hours,expected", [(12, "red"), (100, "red"), (167, "red"),
                                            (169, "green")])
def test_a_step_up_window_tuned_earlier_declines_instead_of_sending_a_code(telco, hours,
                                                                          expected):
    only("sim-swap")
    rule = DecisionRule.objects.get(key="sim-swap")
    rule.params = {"decline_within_hours": 24, "step_up_within_hours": 168,
                   "on_lookup_failure": "yellow"}
    rule.save()
    telco.swapped_hours_ago = hours
    decision = evaluate()
    assert decision.outcome == expected
    assert "yellow" not in {item.verdict.outcome for item in decision.results}


@pytest.mark.django_db
@pytest.mark.parametrize("fallback,expected", [(None, "red"), ("red", "red"), ("yellow", "red"),
                                               ("green", "green")])
def test_telco_down_declines_unless_operations_explicitly_let_it_pass(telco, fallback, expected):
    only("sim-swap")
    rule = DecisionRule.objects.get(key="sim-swap")
    rule.params = {"decline_within_hours": 168,
                   **({"on_lookup_failure": fallback} if fallback else {})}
    rule.save()
    telco.down = True
    decision = evaluate()
    assert decision.outcome == expected
    assert decision.reason_codes == (["sim_swap_unknown"] if expected == "red" else [])


@pytest.mark.django_db
def test_no_number_on_file_is_a_swap_date_unknown_and_declines(telco):
    only("sim-swap")
    eligibility = Eligibility(True, "", "1111", "visa_classic", "", "tier_2")
    decision = evaluate(eligibility=eligibility)
    assert (decision.outcome, decision.reason_codes) == ("red", ["sim_swap_unknown"])


@pytest.mark.django_db
def test_the_installed_sim_swap_rule_declines_within_a_week_and_on_unknown():
    rule = DecisionRule.objects.get(key="sim-swap")
    assert rule.params == {"decline_within_hours": 168, "on_lookup_failure": "red"}


def _sim_swap_migration():
    import importlib

    return importlib.import_module("decisioning.migrations.0005_sim_swap_declines_by_default")


def _migrate_sim_swap_rule_from(params: dict) -> tuple[DecisionRule, int]:
    """Put the sim-swap rule on `params`, run the data migration; the rule after it and
    its version before it."""
    from django.apps import apps

    DecisionRule.objects.filter(key="sim-swap").update(params=params)
    before = DecisionRule.objects.get(key="sim-swap").version
    _sim_swap_migration().decline_on_recent_or_unknown_swap(apps, None)
    return DecisionRule.objects.get(key="sim-swap"), before


@pytest.mark.django_db
def test_the_migration_moves_the_rule_still_on_the_old_defaults_to_decline():
    old = {"decline_within_hours": 0, "step_up_within_hours": 168, "on_lookup_failure": "yellow"}
    rule, before = _migrate_sim_swap_rule_from(old)
    assert rule.params == {"decline_within_hours": 168, "on_lookup_failure": "red"}
    assert (rule.version, rule.updated_by) == (before + 1, "migration")
    latest = DecisionRuleVersion.objects.get(rule=rule, version=before + 1)
    assert (latest.params, latest.changed_by) == (rule.params, "migration")
    change = RuleChange.objects.get(rule=rule, applied_version=before + 1)
    assert (change.status, change.proposed_by) == ("applied", "migration")
    assert (change.before["params"], change.after["params"]) == (old, rule.params)


@pytest.mark.django_db
def test_the_migration_leaves_a_rule_operations_tuned_alone():
    tuned = {"decline_within_hours": 24, "step_up_within_hours": 72, "on_lookup_failure": "yellow"}
    rule, before = _migrate_sim_swap_rule_from(tuned)
    assert (rule.params, rule.version) == (tuned, before)
    assert not DecisionRuleVersion.objects.filter(rule=rule, version=before + 1).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("tier,expected", [("tier_2", "green"), ("tier_1", "red"), (None, "red"),
                                           (3, "green")])
def test_kyc_tier_below_the_minimum_is_refused(tier, expected):
    only("kyc-tier")
    set_params("kyc-tier", min_tier=2)
    eligibility = Eligibility(True, "", "1111", "visa_classic", "+254700000100", tier)
    assert evaluate(eligibility=eligibility).outcome == expected


@pytest.mark.django_db
@pytest.mark.parametrize("product,expected", [("visa_classic", "green"), ("visa_prepaid", "red")])
def test_card_product_must_be_allowed_in_the_wallet(product, expected):
    only("card-product-wallet")
    set_params("card-product-wallet", allowed_products={"google_pay": ["visa_classic"]})
    eligibility = Eligibility(True, "", "1111", product, "+254700000100", 2)
    assert evaluate(eligibility=eligibility).outcome == expected


@pytest.mark.django_db
@pytest.mark.parametrize("live,expected", [(1, "green"), (2, "red")])
def test_at_most_n_live_tokens_per_card(live, expected):
    only("active-tokens-per-card")
    set_params("active-tokens-per-card", max=2)
    for index in range(live):
        TokenFactory(customer_id="cust_test", card_id="card_green", device_id=f"d{index}",
                     state=TokenState.ACTIVE)
    TokenFactory(customer_id="cust_test", card_id="card_green", device_id="gone",
                 state=TokenState.DELETED)
    assert evaluate().outcome == expected


@pytest.mark.django_db
def test_customer_velocity_counts_up_to_and_including_this_push():
    only("attempts-per-customer")
    set_params("attempts-per-customer", max=3)
    requests = [ProvisioningRequestFactory(state=State.RECEIVED) for _ in range(4)]
    outcomes = [evaluate(request).outcome for request in requests]
    assert outcomes == ["green", "green", "green", "red"]


@pytest.mark.django_db
def test_device_velocity_ignores_pushes_older_than_a_day():
    only("attempts-per-device")
    set_params("attempts-per-device", max=1)
    old = ProvisioningRequestFactory(state=State.PROVISIONED, device_id="dev-x")
    ProvisioningRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=25))
    assert evaluate(ProvisioningRequestFactory(device_id="dev-x")).outcome == "green"
    assert evaluate(ProvisioningRequestFactory(device_id="dev-x")).outcome == "red"


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_are_counted_exactly_for_velocity():
    only("attempts-per-customer")
    set_params("attempts-per-customer", max=3)
    requests = [ProvisioningRequestFactory(state=State.RECEIVED, customer_id="cust_burst")
                for _ in range(6)]
    outcomes: dict = {}
    barrier = threading.Barrier(len(requests))

    def run(request):
        barrier.wait()
        try:
            outcomes[request.pk] = evaluate(request).outcome
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes.values()) == ["green"] * 3 + ["red"] * 3
    # The three refused are the three latest, whatever order the threads ran in.
    latest = {r.pk for r in sorted(requests, key=lambda r: r.created_at)[3:]}
    assert {pk for pk, outcome in outcomes.items() if outcome == "red"} == latest


@pytest.mark.django_db
def test_new_device_is_yellow_and_a_device_seen_before_is_green():
    only("new-device")
    first = ProvisioningRequestFactory(device_id="dev-new")
    assert evaluate(first).outcome == "yellow"
    ProvisioningRequestFactory(device_id="dev-new", state=State.PROVISIONED)
    assert evaluate(ProvisioningRequestFactory(device_id="dev-new")).outcome == "green"


@pytest.mark.django_db
def test_shadow_rule_is_recorded_but_changes_nothing(telco):
    only("sim-swap")
    DecisionRule.objects.filter(key="sim-swap").update(mode=Mode.SHADOW)
    telco.swapped_hours_ago = 1
    request = ProvisioningRequestFactory(state=State.RECEIVED)
    decision = evaluate(request)
    assert decision.outcome == "green" and decision.reason_codes == []
    decisioning.record(request, decision)
    result = RuleResult.objects.get(request=request)
    assert (result.outcome, result.mode, result.reason_code) == ("red", "shadow",
                                                                 "sim_swap_recent")
    assert decisioning.firing_counts(timezone.now() - timedelta(hours=1)) == {
        "sim-swap": {"red": 1}}


@pytest.mark.django_db
def test_a_broken_rule_steps_up_instead_of_passing_silently():
    only("kyc-tier")
    set_params("kyc-tier", min_tier="not a number")
    decision = evaluate()
    assert decision.outcome == "yellow"


@pytest.mark.django_db
def test_saving_a_rule_makes_a_new_version_with_who_and_when():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ops_amina", password="x" * 12)
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    rule.params = {**rule.params, "max": 12}  # tighter: applies at once (no second person)
    decisioning.save_rule(rule, user=user)
    assert DecisionRule.objects.get(key="attempts-per-customer").version == 2
    latest = DecisionRuleVersion.objects.filter(rule=rule).order_by("-version").first()
    assert (latest.version, latest.changed_by) == (2, "ops_amina")
    assert latest.params["max"] == 12
