"""The SIM-swap rule declines instead of stepping up: a one-time code by SMS goes to the
swapped SIM, so it proves nothing after a swap.

Moves the installed rule to the new defaults only while it still has the defaults 0002
installed; a rule operations tuned is left to them (the rule reads any leftover step-up
window as a decline window, so tuned params never bring the SMS step-up back). Values
are frozen here, never read from today's code.

Reversing changes nothing: the new params are safe for the previous code as well (it
declines within `decline_within_hours` too), and putting the SMS step-up back would
reopen the hole.
"""

from django.db import migrations

OLD_PARAMS = {"decline_within_hours": 0, "step_up_within_hours": 168,
              "on_lookup_failure": "yellow"}
NEW_PARAMS = {"decline_within_hours": 168, "on_lookup_failure": "red"}
OLD_DESCRIPTION = "A recent SIM swap steps up (or declines) the push."
NEW_DESCRIPTION = "A recent SIM swap, or one the telco cannot confirm, declines the push."


def _snapshot(rule) -> dict:
    # The shape of the rule history (decisioning.weakening.snapshot), frozen here.
    return {"key": rule.key, "kind": rule.kind, "description": rule.description,
            "enabled": bool(rule.enabled), "mode": rule.mode, "params": dict(rule.params)}


def decline_on_recent_or_unknown_swap(apps, schema_editor):
    rule_model = apps.get_model("decisioning", "DecisionRule")
    version_model = apps.get_model("decisioning", "DecisionRuleVersion")
    change_model = apps.get_model("decisioning", "RuleChange")
    rule = rule_model.objects.select_for_update().filter(key="sim-swap", kind="sim_swap").first()
    if rule is None or rule.params != OLD_PARAMS:
        return
    before, base_version = _snapshot(rule), rule.version
    rule.params = NEW_PARAMS
    if rule.description == OLD_DESCRIPTION:
        rule.description = NEW_DESCRIPTION
    rule.version += 1
    rule.updated_by = "migration"
    rule.save()
    version = version_model.objects.create(
        rule=rule, version=rule.version, enabled=rule.enabled, mode=rule.mode,
        params=rule.params, changed_by="migration")
    # A stricter rule applies at once; the history still shows it, before and after.
    change_model.objects.create(
        rule=rule, base_version=base_version, before=before, after=_snapshot(rule),
        status="applied", proposed_by="migration", decided_at=version.changed_at,
        applied_version=rule.version)


class Migration(migrations.Migration):
    dependencies = [("decisioning", "0004_rule_changes_and_four_eyes")]
    operations = [migrations.RunPython(decline_on_recent_or_unknown_swap,
                                       migrations.RunPython.noop)]
