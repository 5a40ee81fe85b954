from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from winback.enums import (
    ChurnGroup,
    ChurnGroupSource,
    ComebackOfferKind,
    ConsentBasis,
    ContactTiming,
    OutreachChannel,
    OutreachStatus,
)

LANGUAGE_CODES = ("en", "sv", "da", "nb")


class LostCustomer(models.Model):
    """A subscription that ended: who left, what they were worth and which churn group."""

    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="lost_records"
    )
    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.PROTECT, related_name="lost_records"
    )
    plan = models.ForeignKey("subscriptions.Plan", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(
        "cancellations.CancellationCase",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The cancellation case the customer left through, if any.",
    )
    left_at = models.DateTimeField()
    monthly_value = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    tenure_months = models.PositiveIntegerField()
    contract_months = models.PositiveSmallIntegerField(default=1)
    cancelled_by = models.CharField(max_length=20, blank=True)
    reason = models.ForeignKey(
        "cancellations.ExitReason", null=True, blank=True, on_delete=models.SET_NULL
    )
    reason_category = models.CharField(max_length=30, blank=True)
    reason_group = models.CharField(
        max_length=30, blank=True, help_text="The exit reason's default group, when it was read."
    )
    reason_text = models.TextField(blank=True)
    competitor = models.CharField(max_length=120, blank=True)
    agent_churn_group = models.CharField(
        max_length=30, choices=ChurnGroup.choices, blank=True, help_text="From the case."
    )
    churn_group = models.CharField(max_length=30, choices=ChurnGroup.choices, db_index=True)
    churn_group_source = models.CharField(max_length=20, choices=ChurnGroupSource.choices)
    past_saves = models.PositiveIntegerField(
        default=0, help_text="Earlier cancellations of this subscription that ended saved."
    )
    attractiveness = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Win-back attractiveness, 0–100 (see README for the weights).",  # noqa: RUF001
    )
    scored_at = models.DateTimeField(null=True, blank=True)
    came_back_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "lost customer"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(came_back_at__isnull=True),
                name="one_lost_record_per_lost_subscription",
            ),
            models.CheckConstraint(
                condition=Q(attractiveness__lte=100), name="lost_attractiveness_max"
            ),
        ]
        indexes = [
            models.Index(fields=["-attractiveness"], name="lost_attractiveness"),
            models.Index(fields=["left_at"], name="lost_left_at"),
        ]

    def __str__(self) -> str:
        return f"{self.customer.name} · {self.get_churn_group_display()}"


class Campaign(models.Model):
    """A win-back plan for some churn groups: when, how often, which message, which channel."""

    name = models.CharField(max_length=120, unique=True)
    active = models.BooleanField(default=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    churn_groups = models.JSONField(
        default=list, help_text="The churn groups this campaign targets."
    )
    include_deliberately_pushed = models.BooleanField(
        default=False,
        help_text="Deliberately pushed-away customers are never contacted unless this is set.",
    )
    min_attractiveness = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)]
    )
    max_months_after_leaving = models.PositiveSmallIntegerField(
        default=24, help_text="Customers who left longer ago than this are not planned."
    )
    timing = models.CharField(
        max_length=10, choices=ContactTiming.choices, default=ContactTiming.DAYS_AFTER_LEAVING
    )
    first_contact_days = models.PositiveSmallIntegerField(
        default=90, help_text="Days after leaving, for the fixed timing."
    )
    contract_months = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(2)],
        help_text="Contract length for the contract timing (blank: the plan's own). "
        "First contact is this − 1 months after leaving.",  # noqa: RUF001
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    min_days_between = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1)]
    )
    channel = models.CharField(
        max_length=10, choices=OutreachChannel.choices, default=OutreachChannel.EMAIL
    )
    consent_basis = models.CharField(
        max_length=20, choices=ConsentBasis.choices, default=ConsentBasis.CONSENT
    )
    offer_kind = models.CharField(
        max_length=20, choices=ComebackOfferKind.choices, blank=True, default=""
    )
    offer_percent = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    offer_months = models.PositiveSmallIntegerField(default=0)
    holdout_percent = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(50)],
        help_text="This share of the audience is never contacted, to measure the true lift.",
    )
    improvements_en = models.TextField("what has improved (English)", blank=True)
    improvements_sv = models.TextField("what has improved (Swedish)", blank=True)
    improvements_da = models.TextField("what has improved (Danish)", blank=True)
    improvements_nb = models.TextField("what has improved (Norwegian Bokmål)", blank=True)
    subject_en = models.CharField("subject (English)", max_length=200)
    subject_sv = models.CharField("subject (Swedish)", max_length=200, blank=True)
    subject_da = models.CharField("subject (Danish)", max_length=200, blank=True)
    subject_nb = models.CharField("subject (Norwegian Bokmål)", max_length=200, blank=True)
    body_en = models.TextField("message (English)")
    body_sv = models.TextField("message (Swedish)", blank=True)
    body_da = models.TextField("message (Danish)", blank=True)
    body_nb = models.TextField("message (Norwegian Bokmål)", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(offer_kind="discount") | Q(offer_percent__gt=0, offer_months__gt=0),
                name="campaign_discount_complete",
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaign_holdout_max"
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, min_days_between__gte=1),
                name="campaign_attempts_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def text_for(self, field: str, language: str) -> str:
        """A per-language text, falling back to English when a translation is missing."""
        return getattr(self, f"{field}_{language}", "") or getattr(self, f"{field}_en")

    def runs_on(self, day) -> bool:
        return (
            self.active
            and (self.starts_on is None or self.starts_on <= day)
            and (self.ends_on is None or day <= self.ends_on)
        )


class Outreach(models.Model):
    """One planned contact attempt of a campaign with a lost customer, and what became of it."""

    lost_customer = models.ForeignKey(
        LostCustomer, on_delete=models.CASCADE, related_name="outreach"
    )
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="outreach")
    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.CASCADE, related_name="outreach"
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    channel = models.CharField(max_length=10, choices=OutreachChannel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=OutreachStatus.choices, default=OutreachStatus.SCHEDULED
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    contacted_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was handed to the channel (counts for the cap)."
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Delivered, or the call made.")
    language = models.CharField(max_length=5, blank=True)
    email = models.OneToOneField(
        "core.OutboundEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    callback = models.OneToOneField(
        "desk.CallbackRequest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outreach",
    )
    skip_reason = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    call_outcome = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "outreach"
        permissions = [("log_winback_call", "Can log the outcome of a win-back call")]
        ordering = ["-due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lost_customer", "campaign", "attempt"], name="one_outreach_per_attempt"
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], name="outreach_due", condition=Q(status="scheduled")),
            models.Index(fields=["customer", "contacted_at"], name="outreach_customer_contacted"),
            models.Index(fields=["campaign", "status"], name="outreach_campaign_status"),
            # The dashboard recounts contacts by the day made and holdouts by the day due.
            models.Index(
                fields=["contacted_at"],
                name="outreach_contacted",
                condition=Q(contacted_at__isnull=False),
            ),
            models.Index(
                fields=["due_at"], name="outreach_holdout_due", condition=Q(status="holdout")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.attempt} → {self.customer_id} ({self.status})"


class Comeback(models.Model):
    """A lost customer who came back: when, through which outreach (or organic), and its value."""

    lost_customer = models.OneToOneField(
        LostCustomer, on_delete=models.PROTECT, related_name="comeback"
    )
    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.PROTECT, related_name="comebacks"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="comebacks"
    )
    at = models.DateTimeField(default=timezone.now)
    outreach = models.ForeignKey(
        Outreach, null=True, blank=True, on_delete=models.SET_NULL, related_name="comebacks"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="comebacks"
    )
    channel = models.CharField(max_length=10, help_text="How they came back: web, phone, other.")
    monthly_amount = models.DecimalField(max_digits=10, decimal_places=2)
    offer_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    value = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="First-year value of the new subscription, net of the come-back offer.",
    )
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["at"], name="comeback_at")]

    def __str__(self) -> str:
        return f"Comeback of {self.customer_id} ({'organic' if self.organic else self.campaign})"

    @property
    def organic(self) -> bool:
        return self.outreach_id is None


class Suppression(models.Model):
    """Never contact this person again (an unsubscribe, or an erased customer's email hash)."""

    customer = models.OneToOneField(
        "subscriptions.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="suppression",
    )
    email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    source = models.CharField(max_length=30)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Suppressed {self.customer_id or self.email_hash[:12]} ({self.source})"
