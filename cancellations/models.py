from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cancellations.enums import (
    BonusKind,
    CaseChannel,
    CaseOutcome,
    CaseStepKind,
    ChurnGroup,
    OfferKind,
    ReasonCategory,
)
from core.models import history_user
from subscriptions.enums import BillingInterval

LANGUAGE_CODES = ("en", "sv", "da", "nb")


class ExitReason(models.Model):
    """One answer to "why are you leaving?", configured by managers, in every language."""

    code = models.SlugField(max_length=50, unique=True)
    label_en = models.CharField("label (English)", max_length=120)
    label_sv = models.CharField("label (Swedish)", max_length=120)
    label_da = models.CharField("label (Danish)", max_length=120)
    label_nb = models.CharField("label (Norwegian Bokmål)", max_length=120)
    prompt_en = models.CharField(
        "follow-up prompt (English)",
        max_length=200,
        blank=True,
        help_text="Optional question asked for free text after this reason is chosen.",
    )
    prompt_sv = models.CharField("follow-up prompt (Swedish)", max_length=200, blank=True)
    prompt_da = models.CharField("follow-up prompt (Danish)", max_length=200, blank=True)
    prompt_nb = models.CharField("follow-up prompt (Norwegian Bokmål)", max_length=200, blank=True)
    category = models.CharField(max_length=30, choices=ReasonCategory.choices)
    default_churn_group = models.CharField(max_length=30, choices=ChurnGroup.choices, blank=True)
    asks_competitor = models.BooleanField(
        default=False, help_text="Ask (optionally) which competitor the customer is moving to."
    )
    is_other = models.BooleanField(default=False, help_text="Always shown last.")
    order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["is_other", "order", "code"]

    def __str__(self) -> str:
        return self.label_en

    def label_for(self, language: str) -> str:
        return getattr(self, f"label_{language}", "") or self.label_en

    def prompt_for(self, language: str) -> str:
        return getattr(self, f"prompt_{language}", "") or self.prompt_en


def validate_billing_intervals(value) -> None:
    if not isinstance(value, list) or any(v not in BillingInterval.values for v in value):
        raise ValidationError(
            "A list of billing intervals: %(allowed)s.",
            params={"allowed": ", ".join(BillingInterval.values)},
        )


def validate_currencies(value) -> None:
    if not isinstance(value, list) or any(
        not isinstance(v, str) or len(v) != 3 or not v.isalpha() for v in value
    ):
        raise ValidationError('A list of three-letter currency codes, e.g. ["SEK"].')


class OfferRule(models.Model):
    """Which offer to propose for which reasons, under which conditions."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=OfferKind.choices)
    reasons = models.ManyToManyField(
        ExitReason, blank=True, help_text="Leave empty to apply to every reason."
    )
    priority = models.PositiveSmallIntegerField(
        default=50, help_text="Higher first. At most two offers are shown, of different kinds."
    )
    active = models.BooleanField(default=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    min_tenure_months = models.PositiveSmallIntegerField(default=0)
    min_monthly_value = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    billing_intervals = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_billing_intervals],
        help_text='Only for subscriptions billed this often, e.g. ["month"] or ["year"]. '
        "Leave empty ([]) for every interval.",
    )
    plans = models.ManyToManyField(
        "subscriptions.Plan",
        blank=True,
        related_name="+",
        help_text="Only for subscriptions on these plans. Leave empty for every plan.",
    )
    currencies = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_currencies],
        help_text='Only for subscriptions in these currencies, e.g. ["SEK", "EUR"]. '
        "Leave empty ([]) for every currency.",
    )
    requires_cheaper_plan = models.BooleanField(
        default=False, help_text="Only when the plan has a cheaper plan (always so for downgrades)."
    )
    cooldown_months = models.PositiveSmallIntegerField(
        default=12,
        help_text="Not offered if the customer accepted an offer of this kind "
        "in the last N months.",
    )
    max_cost_share = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="Largest share of the customer's expected remaining value this offer may cost "
        "(blank: the TACK_OFFER_MAX_COST_SHARE setting).",
    )
    pause_max_months = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    discount_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)]
    )
    discount_months = models.PositiveSmallIntegerField(default=0)
    bonus_kind = models.CharField(
        max_length=20, choices=BonusKind.choices, default=BonusKind.FREE_MONTH
    )
    bonus_amount = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        help_text="The credit, when the bonus is a credit.",
    )

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="discount") | Q(discount_percent__gt=0, discount_months__gt=0),
                name="offer_rule_discount_complete",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True)
                | Q(starts_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="offer_rule_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CancellationCase(models.Model):
    """One attempt to cancel a subscription, from opening the flow to its outcome."""

    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="cancellation_cases"
    )
    customer = models.ForeignKey(
        "subscriptions.Customer", on_delete=models.PROTECT, related_name="cancellation_cases"
    )
    channel = models.CharField(max_length=10, choices=CaseChannel.choices)
    outcome = models.CharField(max_length=10, choices=CaseOutcome.choices, default=CaseOutcome.OPEN)
    language = models.CharField(max_length=5, default="en")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cancellation_cases",
        help_text="The agent, for staff channels.",
    )
    reason = models.ForeignKey(ExitReason, null=True, blank=True, on_delete=models.PROTECT)
    reason_text = models.TextField(blank=True)
    competitor = models.CharField(max_length=120, blank=True)
    churn_group = models.CharField(
        max_length=30,
        choices=ChurnGroup.choices,
        blank=True,
        help_text="The agent's judgment; overrides the reason's default group.",
    )
    reason_order = models.JSONField(default=list, blank=True)
    plan = models.ForeignKey("subscriptions.Plan", on_delete=models.PROTECT, related_name="+")
    monthly_amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    tenure_months = models.PositiveIntegerField()
    opened_at = models.DateTimeField(default=timezone.now)
    reason_at = models.DateTimeField(null=True, blank=True)
    offers_shown_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    accepted_offer = models.ForeignKey(
        "Offer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_effective_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    call_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    follow_up_at = models.DateTimeField(null=True, blank=True)
    submission_key = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        help_text="The phone interview form that created the case (a resubmit finds it).",
    )
    history = HistoricalRecords(excluded_fields=["reason_order"], get_user=history_user)

    class Meta:
        permissions = [("log_exit_interview", "Can log a phone exit interview")]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(outcome="open"),
                name="one_open_case_per_subscription",
            ),
            models.CheckConstraint(
                condition=Q(outcome="open") | Q(decided_at__isnull=False),
                name="closed_case_has_decided_at",
            ),
        ]
        indexes = [
            models.Index(fields=["outcome", "decided_at"], name="case_outcome_decided"),
            models.Index(fields=["opened_at"], name="case_opened_at"),
            models.Index(
                fields=["opened_at"], name="case_open_by_opened", condition=Q(outcome="open")
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} · {self.get_channel_display()} · {self.get_outcome_display()}"

    @property
    def assisted(self) -> bool:
        """Opened by staff (on the phone, or on the web through a link staff made), not
        self-service: the customer alone on the web or a system over the API."""
        return self.actor_id is not None


class Offer(models.Model):
    """An offer presented in a case, with what it would cost and whether it was taken."""

    case = models.ForeignKey(CancellationCase, on_delete=models.CASCADE, related_name="offers")
    rule = models.ForeignKey(OfferRule, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=OfferKind.choices)
    position = models.PositiveSmallIntegerField()
    parameters = models.JSONField(default=dict)
    cost = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="The most it can cost, when shown."
    )
    presented_at = models.DateTimeField(default=timezone.now)
    withdrawn = models.BooleanField(
        default=False, help_text="Replaced when the customer chose another reason."
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["case_id", "withdrawn", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(accepted_at__isnull=False) & ~Q(kind="callback"),
                name="one_accepted_offer_per_case",
            )
        ]
        # The dashboard recounts offers by the day they were shown.
        indexes = [models.Index(fields=["presented_at"], name="offer_presented")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (case {self.case_id})"


class CaseStep(models.Model):
    """Append-only timeline of a case: every step, who took it and when."""

    case = models.ForeignKey(CancellationCase, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=20, choices=CaseStepKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor_label = models.CharField(max_length=120, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["case_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.kind}"
