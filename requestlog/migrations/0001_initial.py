# The RequestLog model moves here from the gateway app. Its table (gateway_requestlog) stays where
# it is: the gateway's migrations create it, this one only takes over the model's state.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_site_from_settings'),
        ('gateway', '0002_requestlog_lean_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RequestLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('request_id', models.CharField(max_length=40)),
                        ('created', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('surface', models.CharField(max_length=20)),
                        ('stream', models.BooleanField(default=False)),
                        ('requested_model', models.CharField(max_length=200)),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('provider', models.CharField(blank=True, max_length=40)),
                        ('host_id', models.BigIntegerField(blank=True, null=True)),
                        ('upstream_model', models.CharField(blank=True, max_length=200)),
                        ('price_version_id', models.BigIntegerField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('status', models.PositiveSmallIntegerField(default=200)),
                        ('error_type', models.CharField(blank=True, max_length=60)),
                        ('finish_reason', models.CharField(blank=True, max_length=40)),
                        ('input_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_read_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_write_tokens', models.PositiveIntegerField(default=0)),
                        ('output_tokens', models.PositiveIntegerField(default=0)),
                        ('reasoning_tokens', models.PositiveIntegerField(default=0)),
                        ('usage_estimated', models.BooleanField(default=False)),
                        ('upstream_cost', models.BigIntegerField(default=0)),
                        ('cost', models.BigIntegerField(default=0)),
                        ('ttft_ms', models.FloatField(blank=True, null=True)),
                        ('total_ms', models.FloatField(blank=True, null=True)),
                        ('overhead_ms', models.FloatField(blank=True, null=True)),
                        ('user_agent', models.CharField(blank=True, max_length=300)),
                        ('api_key', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='request_logs', to='accounts.apikey')),
                        ('org', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='request_logs', to='accounts.org')),
                        ('user', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'gateway_requestlog',
                        'indexes': [models.Index(fields=['org', '-created'], name='gateway_req_org_id_00b719_idx'), models.Index(fields=['api_key', '-created'], name='gateway_req_api_key_c1abfa_idx'), models.Index(fields=['host_id', '-created'], name='gateway_req_host_id_ef6f8b_idx')],
                        'constraints': [models.UniqueConstraint(fields=('request_id',), name='requestlog_request_id_unique')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
