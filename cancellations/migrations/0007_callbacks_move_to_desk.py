"""The callback queue now belongs to the desk app (which renamed its tables)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('cancellations', '0006_callbacks_name_their_source'),
        ('winback', '0005_outreach_callback_in_desk'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='HistoricalCallbackRequest'),
                migrations.DeleteModel(name='CallbackRequest'),
            ],
            database_operations=[],
        ),
    ]
