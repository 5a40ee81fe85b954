from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.models import history_user
from desk.enums import CallbackSource, CallbackStatus, CallbackWindow


class CallbackRequest(models.Model):
    """An item in the agents' callback queue.

    ``source_ref`` names the thing the call is about in its source's own terms: the
    cancellation case for a cancellation's "call me" or an interview's follow-up; for a
    win-back call the outreach row points here instead (``Outreach.callback``).
    """

    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.CASCADE, related_name="callbacks"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="callbacks",
    )
    source = models.CharField(max_length=20, choices=CallbackSource.choices)
    source_ref = models.BigIntegerField(
        null=True, blank=True, help_text="The source's own id (e.g. the cancellation case)."
    )
    due_at = models.DateTimeField()
    window = models.CharField(max_length=20, choices=CallbackWindow.choices, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="Why to call.")
    hints = models.TextField(blank=True, help_text="What to talk about.")
    status = models.CharField(
        max_length=20, choices=CallbackStatus.choices, default=CallbackStatus.OPEN
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="callbacks",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    taken_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="callback_queue",
                condition=Q(status__in=["open", "in_progress"]),
            ),
            models.Index(fields=["source_ref"], name="callback_source_ref"),
        ]

    def __str__(self) -> str:
        return f"Call {self.customer} ({self.get_status_display()})"
