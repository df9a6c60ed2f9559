"""Every change of a customer's profile (the SMS number above all) is kept, with before
and after, who and when; the table refuses updates and deletes in the database, as the
transition log does. Support and operations may view it (admin masks the numbers for
whoever may not change profiles)."""

from django.db import migrations, models

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION notifications_customerprofilechange_append_only()
    RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'notifications_customerprofilechange is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER notifications_customerprofilechange_no_update
    BEFORE UPDATE OR DELETE ON notifications_customerprofilechange
    FOR EACH ROW EXECUTE FUNCTION notifications_customerprofilechange_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS notifications_customerprofilechange_no_update
    ON notifications_customerprofilechange;
DROP FUNCTION IF EXISTS notifications_customerprofilechange_append_only();
"""
# Frozen: who may view the history (core.security's sync_admin_groups gives the same).
VIEW = ("view_customerprofilechange", "Can view customer profile change")
VIEWERS = ("support", "operations")


def make_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def undo_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


def grant_view(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="notifications",
                                                        model="customerprofilechange")
    codename, name = VIEW
    permission, _ = Permission.objects.get_or_create(content_type=content_type,
                                                     codename=codename,
                                                     defaults={"name": name})
    for group_name in VIEWERS:
        Group.objects.get_or_create(name=group_name)[0].permissions.add(permission)


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0003_secret_context_sealed_by_field'),
        ('provisioning', '0003_security'),  # the support and operations groups
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerProfileChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('customer_id', models.CharField(max_length=64)),
                ('field', models.CharField(choices=[('msisdn', 'SMS number'), ('locale', 'Locale'), ('preferred_channel', 'Preferred Channel')], max_length=32)),
                ('before', models.CharField(blank=True, default='', max_length=64)),
                ('after', models.CharField(blank=True, default='', max_length=64)),
                ('changed_by', models.CharField(max_length=150)),
                ('source', models.CharField(choices=[('admin', 'Admin'), ('app', 'App')], max_length=8)),
                ('changed_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['-changed_at', '-id'],
                'indexes': [models.Index(fields=['customer_id', '-changed_at'], name='profilechange_customer_idx')],
            },
        ),
        migrations.RunPython(make_append_only, undo_append_only),
        migrations.RunPython(grant_view, migrations.RunPython.noop),
    ]
