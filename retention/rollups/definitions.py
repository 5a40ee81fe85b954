"""What each daily rollup holds: its model, the raw rows it counts, its keys (and the
variants of them it also stores summed over), its measures; the one list of them."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    F,
    Model,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, TruncDate

from cancellations.models import CancellationCase, Offer
from retention import scan
from retention.models import (
    CaseDay,
    CaseMix,
    ComebackDay,
    FunnelDay,
    OfferMix,
    OutreachDay,
    OutreachMix,
)
from retention.periods import within_days
from retention.scan import (
    ATTRIBUTED_TO_CAMPAIGN,
    ATTRIBUTED_TO_CONTACT,
    CAME_BACK_AFTER_CONTACT,
    CAME_BACK_AFTER_PLAN,
    CONTACTED,
    DECIDED,
    SAVED,
    VERIFY_DAYS,
    money_sum,
    outcome_counts,
)
from winback.enums import OutreachStatus
from winback.models import Comeback, Outreach

CASES, OUTREACH, COMEBACKS = "cases", "outreach", "comebacks"
FAMILIES = (CASES, OUTREACH, COMEBACKS)
HOLDOUT = Q(status=OutreachStatus.HOLDOUT)
NO_ID = Cast(Value(None), BigIntegerField())


@dataclass(frozen=True)
class Rollup:
    """One rollup: its raw rows, what a row's day is, the columns it is grouped by and the
    sums it keeps. With ``breakdowns``, each group of rows is kept once per breakdown (a
    ``dimension`` column names it), grouped by the filters and that breakdown's own key
    columns only, the others empty: a breakdown reads its own few rows, not every
    combination of every key."""

    model: type[Model]
    family: str
    rows: Callable[[Iterable[date] | None], QuerySet]  # the raw rows on these days (or all)
    day: object  # the local day of a raw row
    dimensions: dict[str, object]  # column → expression over a raw row
    measures: dict[str, object]  # column → aggregate
    monthly: bool = False
    breakdowns: dict[str, dict[str, object]] = field(default_factory=dict)
    empty_keys: dict[str, object] = field(default_factory=dict)
    # With totals, each day also gets rows summed over these filter columns (left empty,
    # as given here), scope TOTAL beside the rows of scope EACH: a page that filters by
    # none of them reads those.
    totals: dict[str, object] | None = None

    @property
    def day_column(self) -> str:
        return "period" if self.monthly else "day"

    @property
    def scoped(self) -> bool:
        return self.totals is not None

    @property
    def group_columns(self) -> list[str]:
        keys = ["dimension", *self.empty_keys] if self.breakdowns else []
        return [*(["scope"] if self.scoped else []), *self.dimensions, *keys]

    def key_variants(self) -> list[dict[str, object]]:
        """The columns to group by, once per breakdown (or once)."""
        if not self.breakdowns:
            return [dict(self.dimensions)]
        return [
            {
                **self.dimensions,
                "dimension": Value(name),
                **{column: keys.get(column, empty) for column, empty in self.empty_keys.items()},
            }
            for name, keys in self.breakdowns.items()
        ]


def _decided_cases(days):
    return CancellationCase.objects.filter(outcome__in=DECIDED).filter(
        within_days("decided_at", days)
    )


def _outreach_counted(days):
    """Contacts made (on the day made) and holdout members (on the day they were due)."""
    return Outreach.objects.filter(
        (Q(status__in=CONTACTED) & within_days("contacted_at", days))
        | (HOLDOUT & within_days("due_at", days))
    )


CASE_FILTERS = {
    "channel": F("channel"),
    "plan_id": F("plan_id"),
    "churn_group": scan.case_churn_group(),
}
# The case rollups' totals: summed over the plan and the churn group, and the mixes over the
# channel too (the case totals keep it: they split saves by channel).
SUMMED_OVER_PLAN_AND_GROUP = {"plan_id": NO_ID, "churn_group": Value("")}
SUMMED_OVER_FILTERS = {"channel": Value(""), **SUMMED_OVER_PLAN_AND_GROUP}
OUTREACH_FILTERS = {
    "campaign_id": F("campaign_id"),
    "churn_group": F("lost_customer__churn_group"),
    "channel": F("channel"),
    "plan_id": F("lost_customer__plan_id"),
}

ROLLUPS = [
    Rollup(
        model=CaseDay,
        family=CASES,
        rows=lambda days: _decided_cases(days).annotate(left_at=scan.left_at()),
        day=TruncDate("decided_at"),
        dimensions=CASE_FILTERS,
        measures={
            **outcome_counts(),
            "kept_monthly": money_sum("monthly_amount", filter=SAVED),
            "offer_cost": money_sum("accepted_offer__accepted_cost", filter=SAVED),
            **{f"left_{n}": Count("pk", filter=scan.left_within(n)) for n in VERIFY_DAYS},
        },
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=CaseMix,
        family=CASES,
        rows=_decided_cases,
        day=TruncDate("decided_at"),
        dimensions=CASE_FILTERS,
        measures={**outcome_counts(), "kept_monthly": money_sum("monthly_amount", filter=SAVED)},
        monthly=True,
        breakdowns={
            "all": {},  # by the filters themselves: channel, plan, churn group
            "reason": {"reason_id": F("reason_id")},
            "offer": {
                "offer_kind": Coalesce(F("accepted_offer__kind"), Value("")),
                "offer_rule_id": F("accepted_offer__rule_id"),
            },
            "tenure": {"tenure_band": scan.tenure_band()},
            "agent": {"agent_id": F("actor_id")},
        },
        empty_keys={  # typed, or a UNION of untyped NULLs would settle on text
            "reason_id": NO_ID,
            "offer_kind": Value(""),
            "offer_rule_id": NO_ID,
            "tenure_band": Value(""),
            "agent_id": NO_ID,
        },
        totals=SUMMED_OVER_FILTERS,
    ),
    Rollup(
        model=OfferMix,
        family=CASES,
        rows=lambda days: Offer.objects.filter(within_days("presented_at", days)),
        day=TruncDate("presented_at"),
        dimensions={
            "channel": F("case__channel"),
            "plan_id": F("case__plan_id"),
            "churn_group": scan.case_churn_group("case__"),
            "kind": F("kind"),
            "rule_id": F("rule_id"),
        },
        measures={
            "shown": Count("pk"),
            "accepted": Count("pk", filter=Q(accepted_at__isnull=False)),
            "cost": money_sum("accepted_cost"),
        },
        monthly=True,
        totals=SUMMED_OVER_FILTERS,
    ),
    Rollup(
        model=FunnelDay,
        family=CASES,
        rows=lambda days: CancellationCase.objects.filter(channel="web", actor__isnull=True).filter(
            within_days("opened_at", days)
        ),
        day=TruncDate("opened_at"),
        dimensions={"plan_id": F("plan_id"), "churn_group": scan.case_churn_group()},
        measures={name: Count("pk", filter=condition) for name, condition in scan.FUNNEL.items()},
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=OutreachMix,
        family=OUTREACH,
        rows=_outreach_counted,
        day=Case(When(HOLDOUT, then=TruncDate("due_at")), default=TruncDate("contacted_at")),
        dimensions={
            **OUTREACH_FILTERS,
            "language": F("language"),
            "attempt": F("attempt"),
            "holdout": Case(When(HOLDOUT, then=True), default=False, output_field=BooleanField()),
        },
        measures={
            "contacts": Count("pk"),
            "comebacks_campaign": Count("pk", filter=ATTRIBUTED_TO_CAMPAIGN),
            "comebacks_contact": Count("pk", filter=ATTRIBUTED_TO_CONTACT),
            "came_back_after": Count(
                "pk",
                filter=(HOLDOUT & CAME_BACK_AFTER_PLAN)
                | (Q(status__in=CONTACTED) & CAME_BACK_AFTER_CONTACT),
            ),
        },
        monthly=True,
        totals={"plan_id": NO_ID},  # the breakdowns are by the other filters
    ),
    Rollup(
        model=OutreachDay,
        family=OUTREACH,
        rows=lambda days: Outreach.objects.filter(status__in=CONTACTED).filter(
            within_days("contacted_at", days)
        ),
        day=TruncDate("contacted_at"),
        dimensions=OUTREACH_FILTERS,
        measures={
            "contacts": Count("pk"),
            "first_contacts": Count("pk", filter=Q(attempt=1)),
            "first_comebacks": Count("pk", filter=Q(attempt=1) & ATTRIBUTED_TO_CAMPAIGN),
        },
        totals=SUMMED_OVER_PLAN_AND_GROUP,
    ),
    Rollup(
        model=ComebackDay,
        family=COMEBACKS,
        rows=lambda days: Comeback.objects.filter(within_days("at", days)),
        day=TruncDate("at"),
        dimensions={
            "campaign_id": F("campaign_id"),
            "churn_group": F("lost_customer__churn_group"),
            "channel": Coalesce(F("outreach__channel"), Value("")),
            "plan_id": F("lost_customer__plan_id"),
            "ended_on": scan.left_again_on(),
        },
        measures={
            "attributed": Count("pk", filter=scan.ATTRIBUTED),
            "organic": Count("pk", filter=~scan.ATTRIBUTED),
            "value": money_sum("value", filter=scan.ATTRIBUTED),
            "offer_cost": money_sum("offer_cost", filter=scan.ATTRIBUTED),
            "monthly_amount": money_sum("monthly_amount", filter=scan.ATTRIBUTED),
        },
        totals={**SUMMED_OVER_FILTERS, "campaign_id": NO_ID},
    ),
]
