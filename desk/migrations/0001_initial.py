"""The callback queue moves here from cancellations (its own app below cancellations and
win-back): the tables are taken over as they are and renamed, with their content types
(so permissions, admin log entries and history follow)."""

import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("callbackrequest", "historicalcallbackrequest"):
        if not ContentType.objects.filter(app_label="desk", model=model).exists():
            ContentType.objects.filter(app_label="cancellations", model=model).update(
                app_label="desk"
            )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('subscriptions', '0003_leave_events_index'),
        ('cancellations', '0006_callbacks_name_their_source'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='HistoricalCallbackRequest',
                fields=[
                    ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                    ('source', models.CharField(choices=[('cancellation', 'Cancellation flow'), ('follow_up', 'Exit interview follow-up'), ('winback', 'Win-back outreach')], max_length=20)),
                    ('source_ref', models.BigIntegerField(blank=True, help_text="The source's own id (e.g. the cancellation case).", null=True)),
                    ('due_at', models.DateTimeField()),
                    ('window', models.CharField(blank=True, choices=[('morning', 'Morning (9–12)'), ('afternoon', 'Afternoon (12–16)'), ('evening', 'Early evening (16–19)')], max_length=20)),
                    ('reason', models.CharField(blank=True, help_text='Why to call.', max_length=300)),
                    ('hints', models.TextField(blank=True, help_text='What to talk about.')),
                    ('status', models.CharField(choices=[('open', 'Open'), ('in_progress', 'In progress'), ('done', 'Done'), ('no_answer', 'No answer')], default='open', max_length=20)),
                    ('attempts', models.PositiveSmallIntegerField(default=0)),
                    ('taken_at', models.DateTimeField(blank=True, null=True)),
                    ('outcome_note', models.TextField(blank=True)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('closed_at', models.DateTimeField(blank=True, null=True)),
                    ('history_id', models.AutoField(primary_key=True, serialize=False)),
                    ('history_date', models.DateTimeField(db_index=True)),
                    ('history_change_reason', models.CharField(max_length=100, null=True)),
                    ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                    ('assigned_to', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('customer', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='subscriptions.customer')),
                    ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('subscription', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='subscriptions.subscription')),
                ],
                options={
                    'db_table': 'cancellations_historicalcallbackrequest',
                    'verbose_name': 'historical callback request',
                    'verbose_name_plural': 'historical callback requests',
                    'ordering': ('-history_date', '-history_id'),
                    'get_latest_by': ('history_date', 'history_id'),
                },
                bases=(simple_history.models.HistoricalChanges, models.Model),
            ),
            migrations.CreateModel(
                name='CallbackRequest',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('source', models.CharField(choices=[('cancellation', 'Cancellation flow'), ('follow_up', 'Exit interview follow-up'), ('winback', 'Win-back outreach')], max_length=20)),
                    ('source_ref', models.BigIntegerField(blank=True, help_text="The source's own id (e.g. the cancellation case).", null=True)),
                    ('due_at', models.DateTimeField()),
                    ('window', models.CharField(blank=True, choices=[('morning', 'Morning (9–12)'), ('afternoon', 'Afternoon (12–16)'), ('evening', 'Early evening (16–19)')], max_length=20)),
                    ('reason', models.CharField(blank=True, help_text='Why to call.', max_length=300)),
                    ('hints', models.TextField(blank=True, help_text='What to talk about.')),
                    ('status', models.CharField(choices=[('open', 'Open'), ('in_progress', 'In progress'), ('done', 'Done'), ('no_answer', 'No answer')], default='open', max_length=20)),
                    ('attempts', models.PositiveSmallIntegerField(default=0)),
                    ('taken_at', models.DateTimeField(blank=True, null=True)),
                    ('outcome_note', models.TextField(blank=True)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('closed_at', models.DateTimeField(blank=True, null=True)),
                    ('assigned_to', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='callbacks', to=settings.AUTH_USER_MODEL)),
                    ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='callbacks', to='subscriptions.customer')),
                    ('subscription', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='callbacks', to='subscriptions.subscription')),
                ],
                options={
                    'db_table': 'cancellations_callbackrequest',
                    'ordering': ['due_at', 'pk'],
                    'indexes': [models.Index(condition=models.Q(('status__in', ['open', 'in_progress'])), fields=['due_at'], name='callback_queue')],
                },
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, migrations.RunPython.noop),
        migrations.AlterModelTable(name='callbackrequest', table=None),
        migrations.AlterModelTable(name='historicalcallbackrequest', table=None),
        migrations.AddIndex(
            model_name='callbackrequest',
            index=models.Index(fields=['source_ref'], name='callback_source_ref'),
        ),
    ]
