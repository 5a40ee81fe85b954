import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('desk', '0001_initial'),
        ('winback', '0004_rollup_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='outreach',
            name='callback',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outreach', to='desk.callbackrequest'),
        ),
    ]
