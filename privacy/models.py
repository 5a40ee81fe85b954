from django.conf import settings
from django.db import models
from django.utils import timezone

from privacy.enums import DataRightsAction


class DataRightsLog(models.Model):
    """Who exported or erased a customer's data, when, and through which channel."""

    action = models.CharField(max_length=10, choices=DataRightsAction.choices)
    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.PROTECT, related_name="data_rights_log"
    )
    customer_external_id = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=120)
    channel = models.CharField(max_length=10)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "data rights log entry"
        verbose_name_plural = "data rights log"
        ordering = ["-at", "-pk"]
        permissions = [
            ("export_customer_data", "Can export a customer's data"),
            ("erase_customer_data", "Can erase a customer's personal data"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.customer_external_id} by {self.actor_label}"
