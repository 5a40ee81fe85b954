from django.apps import AppConfig


class WinbackConfig(AppConfig):
    name = "winback"
    verbose_name = "Tack: win-back"

    def ready(self):
        from django.urls import reverse

        from desk import registry
        from desk.enums import CallbackSource

        # A former customer: the win-back call page, not an exit interview.
        registry.register(
            CallbackSource.WINBACK,
            log_url=lambda callback: reverse(
                "admin:winback_outreach_call_for_callback", args=[callback.pk]
            ),
        )
