"""Four eyes on the rules: every edit recorded as a RuleChange (the rule before and after),
a weakening edit pending until a second operations user decides it; versions name the
approver. Both tables refuse rewriting in the database, as the transition log does, and
operations get the permission to decide (support may only look).
"""

import django.db.models.deletion
import django_fsm
from django.db import migrations, models

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION decisioning_decisionruleversion_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'decisioning_decisionruleversion is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER decisioning_decisionruleversion_no_update
    BEFORE UPDATE OR DELETE ON decisioning_decisionruleversion
    FOR EACH ROW EXECUTE FUNCTION decisioning_decisionruleversion_append_only();

-- A change row is written once; the one update allowed is a pending change decided once,
-- approved only by someone other than its proposer, its proposal left as it was.
CREATE OR REPLACE FUNCTION decisioning_rulechange_decided_once() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'decisioning_rulechange is append-only';
    END IF;
    IF OLD.status <> 'pending'
       OR NEW.status NOT IN ('approved', 'rejected')
       OR NEW.decided_by = '' OR NEW.decided_at IS NULL
       OR (NEW.status = 'approved'
           AND (NEW.decided_by = OLD.proposed_by OR NEW.applied_version IS NULL))
       OR (NEW.rule_id, NEW.base_version, NEW.before, NEW.after, NEW.weakening,
           NEW.proposed_by, NEW.proposed_at)
          IS DISTINCT FROM (OLD.rule_id, OLD.base_version, OLD.before, OLD.after,
                            OLD.weakening, OLD.proposed_by, OLD.proposed_at)
    THEN
        RAISE EXCEPTION 'decisioning_rulechange is append-only: a pending change is decided '
                        'once, by someone other than its proposer';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER decisioning_rulechange_decided_once
    BEFORE UPDATE OR DELETE ON decisioning_rulechange
    FOR EACH ROW EXECUTE FUNCTION decisioning_rulechange_decided_once();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS decisioning_rulechange_decided_once ON decisioning_rulechange;
DROP FUNCTION IF EXISTS decisioning_rulechange_decided_once();
DROP TRIGGER IF EXISTS decisioning_decisionruleversion_no_update
    ON decisioning_decisionruleversion;
DROP FUNCTION IF EXISTS decisioning_decisionruleversion_append_only();
"""

# Frozen: the permissions this migration adds and who gets them (core.security's
# sync_admin_groups gives the same when it runs).
PERMISSIONS = {
    "view_rulechange": "Can view rule change",
    "approve_rulechange": "Can approve or reject a rule change that weakens a rule",
}
GRANTS = {"support": ["view_rulechange"],
          "operations": ["view_rulechange", "approve_rulechange"]}


def make_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def undo_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="decisioning",
                                                        model="rulechange")
    permissions = {
        codename: Permission.objects.get_or_create(content_type=content_type, codename=codename,
                                                   defaults={"name": name})[0]
        for codename, name in PERMISSIONS.items()
    }
    for group_name, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*(permissions[codename] for codename in codenames))


class Migration(migrations.Migration):

    dependencies = [
        ('decisioning', '0003_admin_groups'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.AddField(
            model_name='decisionruleversion',
            name='approved_by',
            field=models.CharField(blank=True, default='', max_length=150),
        ),
        migrations.CreateModel(
            name='RuleChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('base_version', models.PositiveIntegerField()),
                ('before', models.JSONField(default=dict)),
                ('after', models.JSONField()),
                ('weakening', models.JSONField(default=list)),
                ('status', django_fsm.FSMField(choices=[('applied', 'Applied'), ('pending', 'Pending'), ('approved', 'Approved'), ('rejected', 'Rejected')], max_length=8, protected=True)),
                ('proposed_by', models.CharField(max_length=150)),
                ('proposed_at', models.DateTimeField(auto_now_add=True)),
                ('decided_by', models.CharField(blank=True, default='', max_length=150)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('applied_version', models.PositiveIntegerField(blank=True, null=True)),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='changes', to='decisioning.decisionrule')),
            ],
            options={
                'ordering': ['-proposed_at', '-id'],
                'permissions': [('approve_rulechange', 'Can approve or reject a rule change that weakens a rule')],
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['proposed_at'], name='rulechange_pending_idx'), models.Index(fields=['rule', '-proposed_at'], name='rulechange_rule_idx')],
            },
            bases=(django_fsm.ConcurrentTransitionMixin, models.Model),
        ),
        migrations.RunPython(make_append_only, undo_append_only),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
