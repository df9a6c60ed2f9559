"""Four eyes on the fraud rules: an edit that weakens an enforced rule waits for a second
operations user, who approves it (a new version naming both) or rejects it; an edit that
does not weaken applies at once; every edit, kind and key included, is recorded with the
rule before and after, and that record is never rewritten."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from core.errors import ApplicationError
from decisioning import services
from decisioning.models import ChangeStatus, DecisionRule, DecisionRuleVersion, RuleChange
from tests.factories import staff_member

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:decisioning_rulechange_changelist"


@pytest.fixture
def amina():
    return staff_member("ops_amina", "operations")


@pytest.fixture
def brian():
    return staff_member("ops_brian", "operations")


@pytest.fixture
def support():
    return staff_member("support_wanjiru", "support")


def edited(rule_key: str, **fields) -> DecisionRule:
    """The rule as the admin form leaves it: loaded, fields set, not saved."""
    rule = DecisionRule.objects.get(key=rule_key)
    params = fields.pop("params", None)
    if params is not None:
        rule.params = {**rule.params, **params}
    for name, value in fields.items():
        setattr(rule, name, value)
    return rule


def propose_weakening(user) -> RuleChange:
    return services.save_rule(edited("attempts-per-customer", params={"max": 200}), user=user)


# --- weakening waits, strengthening applies ---------------------------------------------------

def test_a_weakening_edit_waits_and_leaves_the_rule_as_it_was(amina):
    change = propose_weakening(amina)
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    assert change.status == ChangeStatus.PENDING
    assert (rule.version, rule.params["max"]) == (1, 20)
    assert rule.versions.count() == 1
    assert change.before["params"]["max"] == 20 and change.after["params"]["max"] == 200
    assert any("params.max" in reason for reason in change.weakening)


@pytest.mark.parametrize("fields", [
    {"mode": "shadow"}, {"enabled": False}, {"params": {"outcome": "yellow"}},
    {"kind": "new_device"},
])
def test_shadowing_disabling_softening_or_swapping_the_kind_all_wait(amina, fields):
    change = services.save_rule(edited("attempts-per-customer", **fields), user=amina)
    assert change.status == ChangeStatus.PENDING
    assert DecisionRule.objects.get(key="attempts-per-customer").version == 1


def test_a_strengthening_edit_applies_at_once_as_a_new_version(amina):
    change = services.save_rule(edited("attempts-per-customer", params={"max": 5}), user=amina)
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    assert change.status == ChangeStatus.APPLIED and change.applied_version == 2
    assert (rule.version, rule.params["max"], rule.updated_by) == (2, 5, "ops_amina")
    version = rule.versions.get(version=2)
    assert (version.changed_by, version.approved_by) == ("ops_amina", "")


def test_the_proposer_cannot_approve_their_own_weakening(amina):
    change = propose_weakening(amina)
    with pytest.raises(ApplicationError) as refused:
        services.approve_rule_change(change.pk, user=amina)
    assert refused.value.code == "four_eyes_required"
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING
    assert DecisionRule.objects.get(key="attempts-per-customer").version == 1


def test_a_second_operations_user_approves_and_it_applies_naming_both(amina, brian):
    change = propose_weakening(amina)
    services.approve_rule_change(change.pk, user=brian)
    rule = DecisionRule.objects.get(key="attempts-per-customer")
    assert (rule.version, rule.params["max"]) == (2, 200)
    version = rule.versions.get(version=2)
    assert (version.changed_by, version.approved_by) == ("ops_amina", "ops_brian")
    decided = RuleChange.objects.get(pk=change.pk)
    assert (decided.status, decided.decided_by, decided.applied_version) == (
        ChangeStatus.APPROVED, "ops_brian", 2)
    assert decided.decided_at is not None


def test_a_rejection_is_recorded_and_the_rule_never_changes(amina, brian):
    change = propose_weakening(amina)
    services.reject_rule_change(change.pk, user=brian)
    decided = RuleChange.objects.get(pk=change.pk)
    assert (decided.status, decided.decided_by) == (ChangeStatus.REJECTED, "ops_brian")
    assert DecisionRule.objects.get(key="attempts-per-customer").params["max"] == 20
    with pytest.raises(ApplicationError) as refused:
        services.approve_rule_change(change.pk, user=brian)
    assert refused.value.code == "rule_change_not_pending"


def test_support_cannot_approve(amina, support):
    change = propose_weakening(amina)
    with pytest.raises(ApplicationError) as refused:
        services.approve_rule_change(change.pk, user=support)
    assert refused.value.code == "permission_denied"
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING


def test_a_change_proposed_against_an_older_version_cannot_be_approved(amina, brian):
    change = propose_weakening(amina)
    services.save_rule(edited("attempts-per-customer", params={"max": 15}), user=brian)
    with pytest.raises(ApplicationError) as refused:
        services.approve_rule_change(change.pk, user=brian)
    assert refused.value.code == "rule_change_stale"
    assert DecisionRule.objects.get(key="attempts-per-customer").params["max"] == 15


def test_a_pending_rename_to_a_key_taken_meanwhile_is_refused_not_a_crash(amina, brian):
    change = services.save_rule(edited("attempts-per-customer", key="velocity",
                                       params={"max": 200}), user=amina)
    services.save_rule(edited("attempts-per-device", key="velocity"), user=brian)
    with pytest.raises(ApplicationError) as refused:
        services.approve_rule_change(change.pk, user=brian)
    assert refused.value.code == "rule_key_taken"
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING


def test_a_new_rule_applies_at_once_and_is_recorded(amina):
    rule = DecisionRule(key="kyc-tier-strict", kind="kyc_tier", params={"min_tier": 3})
    change = services.save_rule(rule, user=amina)
    assert (change.status, change.base_version, change.before) == (ChangeStatus.APPLIED, 0, {})
    stored = DecisionRule.objects.get(key="kyc-tier-strict")
    assert stored.version == 1 and stored.versions.get().changed_by == "ops_amina"


# --- history ---------------------------------------------------------------------------

def test_a_key_and_kind_edit_is_recorded_with_before_and_after(amina, brian):
    services.save_rule(edited("new-device", key="device-never-seen"), user=amina)
    renamed = RuleChange.objects.filter(rule__key="device-never-seen").get()
    assert (renamed.before["key"], renamed.after["key"]) == ("new-device", "device-never-seen")
    assert renamed.status == ChangeStatus.APPLIED and renamed.proposed_by == "ops_amina"

    swapped = services.save_rule(edited("kyc-tier", kind="attempts_per_device",
                                        params={"max": 3}), user=amina)
    assert (swapped.before["kind"], swapped.after["kind"]) == ("kyc_tier", "attempts_per_device")
    services.approve_rule_change(swapped.pk, user=brian)
    assert DecisionRule.objects.get(pk=swapped.rule_id).kind == "attempts_per_device"


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_to_rewrite_the_rule_history(amina, brian):
    applied = services.save_rule(edited("attempts-per-customer", params={"max": 5}), user=amina)
    pending = propose_weakening(amina)
    for statement in (
        lambda: RuleChange.objects.filter(pk=applied.pk).update(proposed_by="someone_else"),
        lambda: RuleChange.objects.filter(pk=pending.pk).update(after={"max": 1}),
        lambda: RuleChange.objects.filter(pk=pending.pk).update(status="approved"),
        lambda: RuleChange.objects.filter(pk=applied.pk).delete(),
        lambda: DecisionRuleVersion.objects.filter(rule=applied.rule).update(changed_by="x"),
        lambda: DecisionRuleVersion.objects.filter(rule=applied.rule).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only|decided once"), transaction.atomic():
            statement()
    assert RuleChange.objects.get(pk=applied.pk).proposed_by == "ops_amina"
    assert RuleChange.objects.get(pk=pending.pk).status == ChangeStatus.PENDING
    # The one update allowed: a pending change decided, once.
    services.reject_rule_change(pending.pk, user=brian)
    assert RuleChange.objects.get(pk=pending.pk).status == ChangeStatus.REJECTED


# --- admin -------------------------------------------------------------------------------

RULE_FORM = {"key": "attempts-per-customer", "kind": "attempts_per_customer",
             "description": "At most this many pushes per customer in 24 hours.",
             "enabled": "on", "mode": "enforce",
             "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"}


def rule_url(key: str) -> str:
    return reverse("admin:decisioning_decisionrule_change",
                   args=[DecisionRule.objects.get(key=key).pk])


def test_a_weakening_edit_in_admin_says_it_waits_for_approval(client, amina):
    client.force_login(amina)
    response = client.post(rule_url("attempts-per-customer"),
                           {**RULE_FORM, "params": '{"max": 200, "outcome": "red"}'}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "waits for a second operations user" in text
    assert DecisionRule.objects.get(key="attempts-per-customer").params["max"] == 20
    assert RuleChange.objects.get(status=ChangeStatus.PENDING).proposed_by == "ops_amina"


def test_operations_see_pending_changes_with_approve_and_reject(client, amina, brian):
    change = propose_weakening(amina)
    client.force_login(brian)
    page = client.get(reverse(CHANGELIST), {"status__exact": "pending"})
    assert page.status_code == 200
    actions = page.context["cl"].model_admin.get_actions(page.wsgi_request)
    assert {"approve_changes", "reject_changes"} <= set(actions)
    assert "params.max: 20 → 200" in page.content.decode()

    response = client.post(reverse(CHANGELIST), {"action": "approve_changes",
                                                 "_selected_action": [str(change.pk)]})
    assert response.status_code == 302
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.APPROVED
    assert DecisionRule.objects.get(key="attempts-per-customer").params["max"] == 200


def test_the_proposer_pressing_approve_in_admin_changes_nothing(client, amina):
    change = propose_weakening(amina)
    client.force_login(amina)
    response = client.post(reverse(CHANGELIST), {"action": "approve_changes",
                                                 "_selected_action": [str(change.pk)]},
                           follow=True)
    assert "another operations user" in response.content.decode()
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING


def test_operations_reject_in_admin(client, amina, brian):
    change = propose_weakening(amina)
    client.force_login(brian)
    client.post(reverse(CHANGELIST), {"action": "reject_changes",
                                      "_selected_action": [str(change.pk)]})
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.REJECTED


def test_support_reads_the_changes_but_has_no_action(client, amina, support):
    change = propose_weakening(amina)
    client.force_login(support)
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    actions = page.context["cl"].model_admin.get_actions(page.wsgi_request)
    assert not {"approve_changes", "reject_changes"} & set(actions)
    client.post(reverse(CHANGELIST), {"action": "approve_changes",
                                      "_selected_action": [str(change.pk)]})
    assert RuleChange.objects.get(pk=change.pk).status == ChangeStatus.PENDING
    detail = client.get(reverse("admin:decisioning_rulechange_change", args=[change.pk]))
    assert detail.status_code == 200 and "ops_amina" in detail.content.decode()


def test_the_rule_page_shows_its_change_history(client, amina, brian):
    services.save_rule(edited("attempts-per-customer", params={"max": 5}), user=amina)
    services.approve_rule_change(propose_weakening(amina).pk, user=brian)
    client.force_login(brian)
    page = client.get(rule_url("attempts-per-customer")).content.decode()
    assert "params.max: 20 → 5" in page and "params.max: 5 → 200" in page
    assert "ops_brian" in page
