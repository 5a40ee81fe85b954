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
    "SkipReason",
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


class SkipReason(models.TextChoices):
    """Why a planned contact was not made (stored in ``Outreach.skip_reason``)."""

    CAMPAIGN_NOT_RUNNING = "campaign_not_running", "The campaign is not running"
    CAME_BACK = "came_back", "The customer came back"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    NO_CONSENT = "no_consent", "No marketing consent"
    CONTACT_WINDOW_PASSED = "contact_window_passed", "Too long after leaving (the law's limit)"
    NO_EMAIL = "no_email", "No email address"
    NO_PHONE = "no_phone", "No phone number"
    GROUP_NOT_CONTACTED = "group_not_contacted", "The campaign does not contact this churn group"
    ERASED = "erased", "The customer's data was erased"


# A contact handed to its channel (or made): it counts for the cap and for attribution.
IN_FLIGHT = (OutreachStatus.QUEUED, OutreachStatus.SENT)
