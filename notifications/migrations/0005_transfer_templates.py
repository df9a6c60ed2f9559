"""The Visa Direct messages: a transfer completed, declined or rejected."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0004_customer_profile_history'),
    ]

    operations = [
        migrations.AlterField(
            model_name='notification',
            name='template_key',
            field=models.CharField(choices=[('provisioned', 'Provisioned'), ('step_up_code', 'Step Up Code'), ('declined', 'Declined'), ('ineligible', 'Ineligible'), ('failed', 'Failed'), ('expired', 'Expired'), ('token_suspended', 'Token Suspended'), ('token_resumed', 'Token Resumed'), ('token_deleted', 'Token Deleted'), ('transfer_completed', 'Transfer Completed'), ('transfer_declined', 'Transfer Declined'), ('transfer_rejected', 'Transfer Rejected')], max_length=32),
        ),
    ]
