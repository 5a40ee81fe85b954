from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_webhook_permissions(apps, schema_editor):
    """Retention managers manage webhook endpoints and the delivery log; agents do not.

    Permissions are normally created after the whole migration run, so they are created
    here first; ``ensure_roles`` then gives the managers every Tack permission.
    """
    from core.roles import ensure_roles

    create_permissions(global_apps.get_app_config("core"), apps=apps, verbosity=0)
    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_webhooks"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_webhook_permissions, migrations.RunPython.noop)]
