from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_billing_permissions(apps, schema_editor):
    """Retention managers see billing commands and retry the refused ones; agents do not."""
    from core.roles import ensure_roles

    create_permissions(global_apps.get_app_config("core"), apps=apps, verbosity=0)
    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_billingcommand"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_billing_permissions, migrations.RunPython.noop)]
