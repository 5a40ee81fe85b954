from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_data_rights_permissions(apps, schema_editor):
    """Retention managers export and erase customers' data and read the log; agents do not.

    Permissions are normally created after the whole migration run, so they are created
    here first; ``ensure_roles`` then gives the managers every Tack permission.
    """
    from core.roles import ensure_roles

    create_permissions(global_apps.get_app_config("privacy"), apps=apps, verbosity=0)
    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0001_initial"),
        ("core", "0004_webhook_roles"),
    ]

    operations = [migrations.RunPython(grant_data_rights_permissions, migrations.RunPython.noop)]
