from django.db import models
from django.utils.translation import gettext_lazy as _


class Locale(models.TextChoices):
    EN = "en", "English"
    SV = "sv", "Svenska"
    DA = "da", "Dansk"
    NB = "nb", "Norsk bokmål"


class ConsentSource(models.TextChoices):
    SIGNUP = "signup", "At sign-up"
    WEB = "web", "Web"
    PHONE = "phone", "Phone"
    API = "api", "API"
    IMPORT = "import", "Import"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    CANCEL_PENDING = "cancel_pending", _("Cancellation scheduled")
    CANCELLED = "cancelled", _("Cancelled")


class Channel(models.TextChoices):
    """Where a change came from."""

    WEB = "web", "Web"
    PHONE = "phone", "Phone"
    API = "api", "API"
    EMAIL = "email", "Email"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"
    IMPORT = "import", "Import"
    BILLING = "billing", "Billing system"


class BillingInterval(models.TextChoices):
    MONTH = "month", _("Monthly")
    YEAR = "year", _("Yearly")


class EventKind(models.TextChoices):
    STARTED = "started", "Started"
    UPDATED = "updated", "Updated"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    PLAN_CHANGED = "plan_changed", "Plan changed"
    CREDIT_GRANTED = "credit_granted", "Credit granted"
    DISCOUNT_GRANTED = "discount_granted", "Discount granted"
    CANCEL_REQUESTED = "cancel_requested", "Cancellation requested"
    CANCEL_WITHDRAWN = "cancel_withdrawn", "Cancellation withdrawn"
    CANCELLED = "cancelled", "Cancelled"
    REACTIVATED = "reactivated", "Reactivated"


# Ledger events that mean a subscription asked to leave, or left.
LEAVE_KINDS = (EventKind.CANCEL_REQUESTED, EventKind.CANCELLED)


class CancelledBy(models.TextChoices):
    CUSTOMER = "customer", "The customer"
    COMPANY_NON_PAYMENT = "non_payment", "The company: non-payment"
    COMPANY_MISUSE = "misuse", "The company: misuse"
