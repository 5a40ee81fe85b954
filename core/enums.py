from django.db import models


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


class BillingCommandStatus(models.TextChoices):
    """A billing command's way through the outbox. REFUSED and FAILED were not carried out."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    APPLIED = "applied", "Carried out"
    REFUSED = "refused", "Refused by billing"
    FAILED = "failed", "Failed (billing unreachable)"


class DeliveryPromise(models.TextChoices):
    """What the outbox promises for an email (README "Delivery")."""

    AT_MOST_ONCE = "at_most_once", "At most once (marketing)"
    AT_LEAST_ONCE = "at_least_once", "At least once (service message)"


class ApiScope(models.TextChoices):
    """What an API key may do; each API operation needs one (named in the OpenAPI schema)."""

    READ = "read", "read: customers, subscriptions, exit reasons and cases"
    SUBSCRIPTIONS_WRITE = (
        "subscriptions:write",
        "subscriptions:write: push customers, subscriptions",
    )
    CANCELLATIONS_WRITE = "cancellations:write", "cancellations:write: cancel links and cases"
    PRIVACY = "privacy", "privacy: export and erase a customer's data"
    METRICS = "metrics", "metrics: the retention figures"


class ChangeKind(models.TextChoices):
    """What changed, for the readers that keep aggregates of it (the dashboard's rollups)."""

    CASE = "case", "A cancellation case"
    SUBSCRIPTION_LEFT = "subscription_left", "A subscription asked to leave, ended or came back"
    LOST_CUSTOMER = "lost_customer", "A lost customer's outreach, group or comeback"


class WebhookEventType(models.TextChoices):
    """What Tack tells the company's systems. Receivers subscribe per endpoint."""

    CANCELLATION_STARTED = "cancellation.started", "cancellation.started"
    CANCELLATION_SAVED = "cancellation.saved", "cancellation.saved"
    CANCELLATION_CANCELLED = "cancellation.cancelled", "cancellation.cancelled"
    CANCELLATION_ABANDONED = "cancellation.abandoned", "cancellation.abandoned"
    SUBSCRIPTION_PAUSED = "subscription.paused", "subscription.paused"
    SUBSCRIPTION_RESUMED = "subscription.resumed", "subscription.resumed"
    SUBSCRIPTION_PLAN_CHANGED = "subscription.plan_changed", "subscription.plan_changed"
    SUBSCRIPTION_CREDIT_GRANTED = "subscription.credit_granted", "subscription.credit_granted"
    SUBSCRIPTION_DISCOUNT_GRANTED = (
        "subscription.discount_granted",
        "subscription.discount_granted",
    )
    SUBSCRIPTION_CANCEL_SCHEDULED = (
        "subscription.cancel_scheduled",
        "subscription.cancel_scheduled",
    )
    SUBSCRIPTION_CANCEL_WITHDRAWN = (
        "subscription.cancel_withdrawn",
        "subscription.cancel_withdrawn",
    )
    SUBSCRIPTION_CANCELLED = "subscription.cancelled", "subscription.cancelled"
    SUBSCRIPTION_REACTIVATED = "subscription.reactivated", "subscription.reactivated"
    WINBACK_COMEBACK = "winback.comeback", "winback.comeback"
    CUSTOMER_UNSUBSCRIBED = "customer.unsubscribed", "customer.unsubscribed"
    CUSTOMER_ERASED = "customer.erased", "customer.erased"
    BILLING_COMMAND_FAILED = "billing.command_failed", "billing.command_failed"


# Sent only by the endpoint admin's "Send a test event"; no endpoint subscribes to it.
WEBHOOK_TEST_EVENT = "webhook.test"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"
