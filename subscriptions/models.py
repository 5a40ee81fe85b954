from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from subscriptions.enums import (
    LEAVE_KINDS,
    BillingInterval,
    CancelledBy,
    Channel,
    ConsentSource,
    EventKind,
    Locale,
    SubscriptionStatus,
)
from subscriptions.validators import validate_no_control_characters


class Customer(models.Model):
    external_id = models.CharField(
        max_length=64, unique=True, help_text="The customer's id in the company's own systems."
    )
    name = models.CharField(max_length=200, validators=[validate_no_control_characters])
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[validate_no_control_characters])
    locale = models.CharField(max_length=5, choices=Locale.choices, default=Locale.EN)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, e.g. SE.")
    customer_since = models.DateField()
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    marketing_consent_source = models.CharField(
        max_length=20, choices=ConsentSource.choices, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the customer's personal data was erased (their facts stay).",
    )

    class Meta:
        indexes = [models.Index(fields=["email"]), models.Index(fields=["phone"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Plan(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    monthly_price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="SEK")
    rank = models.PositiveIntegerField(help_text="Orders plans from cheapest (low) to dearest.")
    contract_months = models.PositiveSmallIntegerField(default=1)
    billing_interval = models.CharField(
        max_length=5,
        choices=BillingInterval.choices,
        default=BillingInterval.MONTH,
        help_text="How often the customer is billed (monthly_price is per month either way).",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["rank", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(contract_months__gte=1), name="plan_contract_months")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.monthly_price} {self.currency}/month)"


class Subscription(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    started_at = models.DateTimeField()
    current_period_end = models.DateTimeField()
    paused_until = models.DateTimeField(null=True, blank=True)
    cancel_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=20, choices=CancelledBy.choices, blank=True)
    monthly_amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="SEK")
    discount_percent = models.PositiveSmallIntegerField(default=0)
    discount_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "cancel_at"], name="sub_status_cancel_at"),
            models.Index(fields=["status", "paused_until"], name="sub_status_paused_until"),
            models.Index(fields=["cancelled_at"], name="sub_cancelled_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="paused") | Q(paused_until__isnull=False),
                name="sub_paused_has_until",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancel_pending") | Q(cancel_at__isnull=False),
                name="sub_cancel_pending_has_cancel_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="sub_cancelled_has_cancelled_at",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__lte=100), name="sub_discount_percent_max"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.customer.name} · {self.external_id} · {self.plan.name} · "
            f"{self.get_status_display()}"
        )


class SubscriptionEvent(models.Model):
    """Append-only ledger of every change to a subscription.

    ``sequence`` counts a subscription's events from 1, so consumers can order them.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="events")
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=120, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["subscription_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "sequence"], name="subscription_event_sequence"
            )
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="sub_event_kind_created"),
            # "When did this subscription next ask to leave?": one probe per saved case.
            models.Index(
                fields=["subscription", "created_at"],
                name="sub_event_leaves",
                condition=models.Q(kind__in=LEAVE_KINDS),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}#{self.sequence} {self.kind}"


class StripeEvent(models.Model):
    """A signed Stripe webhook event, kept once per event id (a replay changes nothing).

    ``subject`` is the Stripe subscription the event is about; the newest applied event of a
    subject is the state Tack holds, so an older one arriving late is kept as ``stale``.
    ``invoice.payment_failed`` rows tell a cancellation for non-payment from a customer's.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Older than the state held (arrived out of order)"
        IGNORED = "ignored", "Nothing to change"
        RECORDED = "recorded", "Recorded"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    subject = models.CharField(max_length=255, blank=True, db_index=True)
    created = models.DateTimeField(help_text="When Stripe made the event.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["subject", "created"], name="stripe_event_subject")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} ({self.outcome})"
