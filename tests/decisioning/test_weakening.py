"""What counts as weakening a decisioning rule (the edits that need a second operations
user): a table of edits per rule kind, and properties over any params."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisioning.weakening import weakening_reasons


def rule(kind="attempts_per_customer", *, enabled=True, mode="enforce", key="a-rule",
         description="", **params):
    return {"key": key, "kind": kind, "description": description, "enabled": enabled,
            "mode": mode, "params": params}


SIM_SWAP = {"decline_within_hours": 24, "step_up_within_hours": 168,
            "on_lookup_failure": "yellow"}
PRODUCTS = {"allowed_products": {"apple_pay": ["visa_classic", "visa_gold"]}, "outcome": "red"}

# (before, after, weakens?)
TABLE = [
    # the rule as a whole
    pytest.param(rule(max=10), rule(max=10, enabled=False), True, id="disabling"),
    pytest.param(rule(max=10), rule(max=10, mode="shadow"), True, id="enforce->shadow"),
    pytest.param(rule(max=10, mode="shadow"), rule(max=10), False, id="shadow->enforce"),
    pytest.param(rule(max=10, enabled=False), rule(max=10), False, id="enabling"),
    pytest.param(rule(max=10), rule("new_device", outcome="yellow"), True, id="kind changed"),
    pytest.param(rule(max=10), rule(max=10, key="renamed", description="new words"), False,
                 id="key and description only"),
    pytest.param(rule(max=10, mode="shadow"), rule(max=99, mode="shadow"), False,
                 id="a shadow rule's params (nothing enforced changes)"),
    pytest.param(rule(max=10, enabled=False), rule(max=99, enabled=False), False,
                 id="a disabled rule's params"),
    pytest.param(rule(max=10, mode="shadow"), rule(max=99), False,
                 id="enforcing a shadow rule, even loosely"),
    pytest.param({}, rule(max=99), False, id="a new rule"),
    # maximums: higher is weaker
    pytest.param(rule(max=10), rule(max=20), True, id="higher max"),
    pytest.param(rule(max=10), rule(max=5), False, id="lower max"),
    pytest.param(rule(max=10), rule(max="10"), False, id="the same max as a string"),
    pytest.param(rule("active_tokens_per_card", max=5), rule("active_tokens_per_card", max=6),
                 True, id="more live tokens per card"),
    # minimums: lower is weaker
    pytest.param(rule("kyc_tier", min_tier=2), rule("kyc_tier", min_tier=1), True,
                 id="lower KYC tier"),
    pytest.param(rule("kyc_tier", min_tier=1), rule("kyc_tier", min_tier=3), False,
                 id="higher KYC tier"),
    # windows: shorter is weaker, 0 is off
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "decline_within_hours": 12}), True, id="shorter decline window"),
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "decline_within_hours": 0}), True, id="decline window off"),
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "decline_within_hours": 168}), False, id="longer decline window"),
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "step_up_within_hours": 48}), True, id="shorter step-up window"),
    pytest.param(rule("sim_swap", decline_within_hours=0), rule("sim_swap"), False,
                 id="removing a window that was off"),
    pytest.param(rule("sim_swap", decline_within_hours=24), rule("sim_swap"), True,
                 id="removing a window that was on"),
    # outcomes: red > yellow > green
    pytest.param(rule(max=10, outcome="red"), rule(max=10, outcome="yellow"), True,
                 id="red->yellow"),
    pytest.param(rule(max=10, outcome="yellow"), rule(max=10, outcome="green"), True,
                 id="yellow->green"),
    pytest.param(rule(max=10, outcome="yellow"), rule(max=10, outcome="red"), False,
                 id="yellow->red"),
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "on_lookup_failure": "green"}), True, id="telco down lets pushes through"),
    pytest.param(rule("sim_swap", **SIM_SWAP), rule("sim_swap", **{**SIM_SWAP,
                 "on_lookup_failure": "red"}), False, id="telco down declines"),
    pytest.param(rule(max=10, outcome="red"), rule(max=10, outcome="purple"), True,
                 id="an outcome the rule cannot read"),
    pytest.param(rule(max=10), rule(max=10, outcome="red"), False, id="adding a red outcome"),
    pytest.param(rule(max=10), rule(max=10, outcome="yellow"), True,
                 id="adding a lesser outcome (its default is not known here)"),
    # allow-lists: allowing more, or dropping the list, is weaker
    pytest.param(rule("card_product_wallet", **PRODUCTS),
                 rule("card_product_wallet", **{**PRODUCTS, "allowed_products": {
                     "apple_pay": ["visa_classic", "visa_gold", "visa_prepaid"]}}), True,
                 id="one more product allowed"),
    pytest.param(rule("card_product_wallet", **PRODUCTS),
                 rule("card_product_wallet", **{**PRODUCTS, "allowed_products": {}}), True,
                 id="a wallet's restriction removed"),
    pytest.param(rule("card_product_wallet", **PRODUCTS),
                 rule("card_product_wallet", outcome="red"), True, id="the allow-list removed"),
    pytest.param(rule("card_product_wallet", **PRODUCTS),
                 rule("card_product_wallet", **{**PRODUCTS, "allowed_products": {
                     "apple_pay": ["visa_classic"]}}), False, id="one product fewer"),
    pytest.param(rule("card_product_wallet", **PRODUCTS),
                 rule("card_product_wallet", **{**PRODUCTS, "allowed_products": {
                     "apple_pay": ["visa_classic", "visa_gold"],
                     "google_pay": ["visa_classic"]}}), False, id="a wallet restricted too"),
    pytest.param(rule("card_product_wallet", allowed_products={}, outcome="red"),
                 rule("card_product_wallet", **PRODUCTS), False, id="a first restriction"),
    # params this check has no order for
    pytest.param(rule("sim_swap", decline_within_hours=24, mystery="a"),
                 rule("sim_swap", decline_within_hours=24, mystery="b"), True,
                 id="an unknown param changed"),
    pytest.param(rule(max=10), rule(max=10, new_threshold=3), True,
                 id="an unknown param added"),
    pytest.param(rule(max=10), rule(max="ten"), True, id="a max the rule cannot read"),
    pytest.param(rule(max=10), rule(max=float("nan")), True, id="a max that is not a number"),
    pytest.param(rule(max=10), rule(max=True), True, id="a max that is a boolean"),
]


@pytest.mark.parametrize("before,after,weakens", TABLE)
def test_which_edits_weaken_a_rule(before, after, weakens):
    reasons = weakening_reasons(before, after)
    assert bool(reasons) is weakens, reasons


def test_each_reason_names_what_weakened():
    reasons = weakening_reasons(rule(max=10, outcome="red"),
                                rule(max=20, outcome="yellow", mode="shadow"))
    assert any("mode" in reason for reason in reasons)
    assert any("params.max" in reason and "10" in reason and "20" in reason
               for reason in reasons)
    assert any("params.outcome" in reason for reason in reasons)


# --- properties -----------------------------------------------------------------------

NAMES = {
    # a new param of any of these shapes is ordered by its name, whatever the rule kind
    "max": st.integers(0, 1000), "max_attempts": st.integers(0, 1000),
    "min_tier": st.integers(0, 10), "decline_within_hours": st.integers(1, 24 * 30),
    "review_window": st.integers(1, 1000), "cool_down_minutes": st.integers(1, 1000),
    "outcome": st.sampled_from(["green", "yellow", "red"]),
    "on_lookup_failure": st.sampled_from(["green", "yellow", "red"]),
}
PARAMS = st.fixed_dictionaries({}, optional={name: values for name, values in NAMES.items()})
SNAPSHOTS = st.builds(
    lambda kind, enabled, mode, params: rule(kind, enabled=enabled, mode=mode, **params),
    st.sampled_from(["sim_swap", "kyc_tier", "attempts_per_device", "some_future_kind"]),
    st.booleans(), st.sampled_from(["enforce", "shadow"]), PARAMS)


@given(SNAPSHOTS)
def test_saving_a_rule_unchanged_never_weakens_it(snapshot):
    assert weakening_reasons(snapshot, snapshot) == []


@given(st.sampled_from(sorted(NAMES)), st.data())
def test_of_two_different_values_of_an_ordered_param_exactly_one_way_weakens(name, data):
    first = data.draw(NAMES[name])
    second = data.draw(NAMES[name].filter(lambda value: value != first))
    one_way = bool(weakening_reasons(rule(**{name: first}), rule(**{name: second})))
    other_way = bool(weakening_reasons(rule(**{name: second}), rule(**{name: first})))
    assert one_way != other_way


@given(SNAPSHOTS, PARAMS)
def test_no_edit_of_a_rule_that_enforces_nothing_weakens_it(snapshot, params):
    idle = {**snapshot, "mode": "shadow"}
    assert weakening_reasons(idle, {**idle, "params": params, "enabled": False}) == []


@given(SNAPSHOTS)
def test_taking_an_enforced_rule_out_of_enforcement_always_weakens_it(snapshot):
    live = {**snapshot, "enabled": True, "mode": "enforce"}
    assert weakening_reasons(live, {**live, "mode": "shadow"})
    assert weakening_reasons(live, {**live, "enabled": False})
