from django.db import migrations


def create(apps, schema_editor):
    from winback.defaults import ensure_default_campaigns

    ensure_default_campaigns(apps)


class Migration(migrations.Migration):
    dependencies = [("winback", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
