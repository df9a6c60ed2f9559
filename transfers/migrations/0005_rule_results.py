
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('transfers', '0004_reconciliation'),
    ]

    operations = [
        migrations.CreateModel(
            name='TransferRuleResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule_key', models.CharField(max_length=64)),
                ('rule_kind', models.CharField(max_length=32)),
                ('rule_version', models.PositiveIntegerField()),
                ('mode', models.CharField(max_length=8)),
                ('outcome', models.CharField(max_length=8)),
                ('reason_code', models.CharField(blank=True, default='', max_length=64)),
                ('inputs', models.JSONField(default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['transfer', 'rule_key'],
            },
        ),
        migrations.AddIndex(
            model_name='payee',
            index=models.Index(fields=['pan_fingerprint'], name='payee_fingerprint_idx'),
        ),
        migrations.AddField(
            model_name='transferruleresult',
            name='transfer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rule_results', to='transfers.transfer'),
        ),
        migrations.AddIndex(
            model_name='transferruleresult',
            index=models.Index(fields=['rule_key', 'created_at'], name='transfer_ruleresult_idx'),
        ),
    ]
