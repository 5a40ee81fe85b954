"""The dashboard's permission, and the daily rollups it reads.

Each rollup holds additive counts and sums for one day (``grain`` day) or one month (``grain``
month, the sum of its days) per combination of the values the dashboard filters and breaks
down by. A period is read as its whole months plus the days around them, so a year costs a
few thousand rows, not hundreds of thousands. Names (reason labels, plan names, usernames)
are joined when read; the foreign keys here have no database constraint, so a rollup never
stands in the way of a delete and a missing object reads as empty, as in the raw scan.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models


class Dashboard(models.Model):
    """No table: it carries the permission to see the retention dashboard."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", "Can view the retention dashboard")]

    def __str__(self) -> str:
        return "Retention dashboard"


class Grain(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


class Scope(models.TextChoices):
    """A row per combination of the filter columns (each), or the same counts summed over
    the filter columns a rollup does not keep in its totals (total): the unfiltered page
    reads a few rows per day instead of one per channel, plan and churn group."""

    EACH = "each", "Each filter combination"
    TOTAL = "total", "Summed over the filters"


def _scope() -> models.CharField:
    return models.CharField(max_length=5, choices=Scope.choices, default=Scope.EACH)


class RollupState(models.Model):
    """The one row that says how fresh the rollups are; refreshes lock it to run one at a time."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.CharField(
        max_length=64,
        blank=True,
        help_text="What the rollups were built with (definitions, time zone, exit reasons' "
        "groups); when it changes, they are rebuilt.",
    )

    def __str__(self) -> str:
        return f"Rollups as of {self.refreshed_at}"


class RollupRow(models.Model):
    class Meta:
        abstract = True

    def __str__(self) -> str:
        when = getattr(self, "day", None) or getattr(self, "period", "")
        return f"{self._meta.verbose_name} {when}"


def _ref(model: str, *, null: bool = False) -> models.ForeignKey:
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=null,
        related_name="+",
    )


def _count() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=0)


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))


class CaseDay(RollupRow):
    """Decided cases per day (local date of the decision) by channel, plan and churn group:
    the totals, the billing check and the weekly trend."""

    scope = _scope()
    day = models.DateField()
    channel = models.CharField(max_length=10)
    plan = _ref("subscriptions.Plan", null=True)
    churn_group = models.CharField(max_length=30)
    saved = _count()
    cancelled = _count()
    abandoned = _count()
    kept_monthly = _money()
    offer_cost = _money()
    left_30 = _count()
    left_60 = _count()
    left_90 = _count()

    class Meta:
        indexes = [models.Index(fields=["scope", "day"], name="caseday_scope_day")]


class CaseMix(RollupRow):
    """Decided cases by each breakdown: ``dimension`` says which key columns a row is
    grouped by (all: only the filters; reason; offer: kind and rule; tenure; agent)."""

    scope = _scope()
    grain = models.CharField(max_length=5, choices=Grain.choices)
    period = models.DateField(help_text="The day, or the first day of the month.")
    dimension = models.CharField(max_length=10, default="all")
    channel = models.CharField(max_length=10)
    plan = _ref("subscriptions.Plan", null=True)
    churn_group = models.CharField(max_length=30)
    reason = _ref("cancellations.ExitReason", null=True)
    offer_kind = models.CharField(max_length=20, blank=True)
    offer_rule = _ref("cancellations.OfferRule", null=True)
    tenure_band = models.CharField(max_length=20)
    agent = _ref(settings.AUTH_USER_MODEL, null=True)
    saved = _count()
    cancelled = _count()
    abandoned = _count()
    kept_monthly = _money()

    class Meta:
        indexes = [
            models.Index(fields=["scope", "dimension", "grain", "period"], name="casemix_scope")
        ]


class OfferMix(RollupRow):
    """Offers shown (by the day they were shown) and accepted, by kind and rule."""

    scope = _scope()
    grain = models.CharField(max_length=5, choices=Grain.choices)
    period = models.DateField()
    channel = models.CharField(max_length=10)
    plan = _ref("subscriptions.Plan", null=True)
    churn_group = models.CharField(max_length=30)
    kind = models.CharField(max_length=20)
    rule = _ref("cancellations.OfferRule", null=True)
    shown = _count()
    accepted = _count()
    cost = _money()

    class Meta:
        indexes = [models.Index(fields=["scope", "grain", "period"], name="offermix_scope")]


class FunnelDay(RollupRow):
    """Self-service web cases by the day they were opened (the customer's first click), and
    how far they got."""

    scope = _scope()
    day = models.DateField()
    plan = _ref("subscriptions.Plan", null=True)
    churn_group = models.CharField(max_length=30)
    opened = _count()
    reason_chosen = _count()
    reason_skipped = _count()
    offers_shown = _count()
    accepted = _count()
    declined = _count()
    abandoned = _count()
    still_open = _count()

    class Meta:
        indexes = [models.Index(fields=["scope", "day"], name="funnelday_scope_day")]


class OutreachMix(RollupRow):
    """Win-back contacts made (by the day made) and holdout members (by the day they would
    have been contacted), by campaign, churn group, channel, plan, language and attempt."""

    scope = _scope()
    grain = models.CharField(max_length=5, choices=Grain.choices)
    period = models.DateField()
    campaign = _ref("winback.Campaign")
    churn_group = models.CharField(max_length=30)
    channel = models.CharField(max_length=10)
    plan = _ref("subscriptions.Plan", null=True)
    language = models.CharField(max_length=5)
    attempt = models.PositiveSmallIntegerField()
    holdout = models.BooleanField()
    contacts = _count()
    comebacks_campaign = _count()
    comebacks_contact = _count()
    came_back_after = _count()

    class Meta:
        indexes = [models.Index(fields=["scope", "grain", "period"], name="outreachmix_scope")]


class OutreachDay(RollupRow):
    """Win-back contacts made per day by the filters only: the totals and the weekly trend."""

    scope = _scope()
    day = models.DateField()
    campaign = _ref("winback.Campaign")
    churn_group = models.CharField(max_length=30)
    channel = models.CharField(max_length=10)
    plan = _ref("subscriptions.Plan", null=True)
    contacts = _count()
    first_contacts = _count()
    first_comebacks = _count()

    class Meta:
        indexes = [models.Index(fields=["scope", "day"], name="outreachday_scope_day")]


class ComebackDay(RollupRow):
    """Comebacks per day (local date of coming back) by the filters, and by the day the
    subscription ended again (none while it runs): the win-back's value, offer cost and
    lifetime value, whose months are counted from these days when the page is read."""

    scope = _scope()
    day = models.DateField()
    campaign = _ref("winback.Campaign", null=True)
    churn_group = models.CharField(max_length=30)
    channel = models.CharField(max_length=10, help_text="The contact's channel; empty if organic.")
    plan = _ref("subscriptions.Plan", null=True)
    ended_on = models.DateField(null=True)
    attributed = _count()
    organic = _count()
    value = _money()
    offer_cost = _money()
    monthly_amount = _money()

    class Meta:
        indexes = [models.Index(fields=["scope", "day"], name="comebackday_scope_day")]
