from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Tack: platform"

    def ready(self) -> None:
        from core import roles

        # Permissions of models added by later migrations join the roles automatically.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="core.sync_roles")
