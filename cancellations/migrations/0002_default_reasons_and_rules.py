from django.db import migrations


def create_defaults(apps, schema_editor):
    from cancellations.defaults import ensure_defaults

    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("cancellations", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
