"""Before the callback queue moves to the desk app: each call names what it is about by the
source's own id (``source_ref``: the case for a cancellation's call or a follow-up, the
outreach for a win-back call) instead of a foreign key into this app."""

from django.db import migrations, models


def name_the_source(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in ("cancellations_callbackrequest", "cancellations_historicalcallbackrequest"):
            cursor.execute(f"UPDATE {table} SET source_ref = case_id WHERE case_id IS NOT NULL")
        cursor.execute(
            "UPDATE cancellations_callbackrequest AS c SET source_ref = o.id "
            "FROM winback_outreach AS o WHERE o.callback_id = c.id AND c.source = 'winback'"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('cancellations', '0005_rollup_indexes'),
        ('winback', '0004_rollup_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='callbackrequest',
            name='source_ref',
            field=models.BigIntegerField(blank=True, help_text="The source's own id (e.g. the cancellation case).", null=True),
        ),
        migrations.AddField(
            model_name='historicalcallbackrequest',
            name='source_ref',
            field=models.BigIntegerField(blank=True, help_text="The source's own id (e.g. the cancellation case).", null=True),
        ),
        migrations.RunPython(name_the_source, migrations.RunPython.noop),
        migrations.RemoveField(model_name='callbackrequest', name='case'),
        migrations.RemoveField(model_name='historicalcallbackrequest', name='case'),
    ]
