from django.db import models


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ChangeKind(models.TextChoices):
    """What changed, for the readers that keep aggregates of it (the dashboard's rollups)."""

    CASE = "case", "A cancellation case"
    SUBSCRIPTION_LEFT = "subscription_left", "A subscription asked to leave"
    LOST_CUSTOMER = "lost_customer", "A lost customer's outreach, group or comeback"
