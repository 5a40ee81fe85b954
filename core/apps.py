from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Tack: platform"

    def ready(self) -> None:
        from core import roles
        from core.models import WebhookEndpoint
        from core.webhooks import webhook_subscribers_changed

        # Permissions of models added by later migrations join the roles automatically.
        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="core.sync_roles")
        # The cached list of webhook subscribers is dropped when an endpoint changes.
        for signal in (post_save, post_delete):
            signal.connect(
                webhook_subscribers_changed,
                sender=WebhookEndpoint,
                dispatch_uid=f"core.webhook_subscribers.{signal is post_save}",
            )
