from django.db import models

from cancellations.enums import ChurnGroup

__all__ = [
    "ChurnGroup",
    "ChurnGroupSource",
    "ComebackOfferKind",
    "ConsentBasis",
    "ContactTiming",
    "OutreachChannel",
    "OutreachStatus",
]


class ChurnGroupSource(models.TextChoices):
    """Where a lost customer's churn group came from, strongest first."""

    MANAGER = "manager", "Re-segmented by a manager"
    AGENT = "agent", "The agent's judgment on the case"
    REASON = "reason", "The exit reason's default group"
    RULE = "rule", "A documented rule"
    FALLBACK = "fallback", "No information (fallback)"


class ContactTiming(models.TextChoices):
    DAYS_AFTER_LEAVING = "days", "A fixed number of days after leaving"
    CONTRACT_END = "contract", "Contract months − 1 after leaving"  # noqa: RUF001


class OutreachChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone call (agents' callback queue)"


class ConsentBasis(models.TextChoices):
    CONSENT = "consent", "Marketing consent required"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (no consent needed)"


class ComebackOfferKind(models.TextChoices):
    NONE = "", "No offer"
    DISCOUNT = "discount", "A discount"
    FREE_MONTH = "free_month", "A free month"


class OutreachStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Handed to the channel"
    SENT = "sent", "Contacted"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    HOLDOUT = "holdout", "Holdout (never contacted)"
