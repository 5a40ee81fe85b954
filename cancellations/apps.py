from django.apps import AppConfig


class CancellationsConfig(AppConfig):
    name = "cancellations"
    verbose_name = "Tack: cancellations"

    def ready(self):
        from django.db.models.signals import post_delete, post_save
        from django.urls import reverse

        from cancellations.admin import create_cancel_links
        from cancellations.models import ExitReason
        from cancellations.selectors import CASE_CALL_SOURCES, exit_reasons_changed
        from desk import registry
        from subscriptions.admin import register_subscription_action

        # A cancellation's "call me back" and an interview's follow-up are logged as a
        # phone exit interview.
        registry.register(
            *CASE_CALL_SOURCES,
            log_url=lambda callback: (
                reverse("admin:cancellations_interview") + f"?callback={callback.pk}"
            ),
        )
        register_subscription_action(create_cancel_links)
        # The cached list of active exit reasons is dropped when a reason changes.
        for signal in (post_save, post_delete):
            signal.connect(
                exit_reasons_changed,
                sender=ExitReason,
                dispatch_uid=f"cancellations.exit_reasons.{signal is post_save}",
            )
