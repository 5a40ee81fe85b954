"""Lost customers: recorded set-based from ended subscriptions, sorted into the five churn
groups and scored for win-back attractiveness. Every step is one SQL statement over all rows.

The churn group comes from, strongest first:

1. a manager's re-segmentation in the admin (kept until a manager changes it);
2. the agent's judgment on the cancellation case (phone exit interview);
3. the exit reason's default group (configured per reason in the admin);
4. the documented rules below;
5. otherwise self-switcher (we know nothing that says we failed them).

The rules: cancelled by us for non-payment or misuse → deliberately pushed away; a competitor's
price, or our price with a competitor named → bought away; a competitor's features → pulled
away; expectations, service or our own price → unintentionally pushed away; no need or a life
change → self-switcher.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Least, Round
from django.utils import timezone

from cancellations.enums import CaseOutcome, ReasonCategory
from cancellations.models import CancellationCase, ExitReason
from core.changes import changes_mark
from core.dates import add_months
from core.enums import ChangeKind
from subscriptions.enums import CancelledBy, SubscriptionStatus
from subscriptions.models import Subscription
from winback.enums import ChurnGroup, ChurnGroupSource
from winback.models import LostCustomer, Outreach
from winback.services.planning import outreach_skip_forbidden

COMPANY_CANCELLED = [CancelledBy.COMPANY_NON_PAYMENT, CancelledBy.COMPANY_MISUSE]


def churn_group_rules(
    *, category: str = "reason_category", competitor: str = "competitor", cancelled_by: str = ""
) -> list[tuple[Q, str]]:
    """The documented rules as (condition, group), first match wins, over the given fields
    (lost customers by default; the dashboard applies them to cancellation cases)."""
    rules: list[tuple[Q, str]] = []
    if cancelled_by:
        rules.append(
            (Q(**{f"{cancelled_by}__in": COMPANY_CANCELLED}), ChurnGroup.DELIBERATELY_PUSHED)
        )
    return [
        *rules,
        (Q(**{category: ReasonCategory.COMPETITOR_PRICE}), ChurnGroup.BOUGHT_AWAY),
        (Q(**{category: ReasonCategory.PRICE}) & ~Q(**{competitor: ""}), ChurnGroup.BOUGHT_AWAY),
        (Q(**{category: ReasonCategory.COMPETITOR_FEATURES}), ChurnGroup.PULLED_AWAY),
        (
            Q(
                **{
                    f"{category}__in": [
                        ReasonCategory.EXPECTATIONS,
                        ReasonCategory.SERVICE,
                        ReasonCategory.PRICE,
                    ]
                }
            ),
            ChurnGroup.UNINTENTIONALLY_PUSHED,
        ),
        (
            Q(**{f"{category}__in": [ReasonCategory.NO_NEED, ReasonCategory.LIFE_CHANGE]}),
            ChurnGroup.SELF_SWITCHER,
        ),
    ]


RULES = churn_group_rules(cancelled_by="cancelled_by")
FALLBACK_GROUP = ChurnGroup.SELF_SWITCHER


def _latest_case(field: str):
    """The value of ``field`` on the subscription's last case that ended in a cancellation."""
    return Subquery(
        CancellationCase.objects.filter(subscription=OuterRef("pk"), outcome=CaseOutcome.CANCELLED)
        .order_by("-decided_at", "-pk")
        .values(field)[:1]
    )


def lost_customers_record(*, now: datetime | None = None) -> int:
    """Record every cancelled subscription that has no open lost-customer record yet.

    One SELECT (the last cancelled case's reason, text, competitor and agent judgment, and
    the earlier saves, as correlated subqueries) streamed into bulk inserts of 5,000 rows.
    Safe to run concurrently and repeatedly: the partial unique index on open records makes
    a second insert of the same subscription a no-op. Returns how many were recorded.
    """
    now = now or timezone.now()
    saves = (
        CancellationCase.objects.filter(subscription=OuterRef("pk"), outcome=CaseOutcome.SAVED)
        .order_by()
        .values("subscription")
        .annotate(n=Count("pk"))
        .values("n")
    )
    source = (
        Subscription.objects.filter(status=SubscriptionStatus.CANCELLED)
        .filter(
            ~Exists(
                LostCustomer.objects.filter(subscription=OuterRef("pk"), came_back_at__isnull=True)
            )
        )
        .annotate(
            case_id=_latest_case("pk"),
            case_tenure=_latest_case("tenure_months"),
            reason_id=_latest_case("reason_id"),
            reason_text=_latest_case("reason_text"),
            competitor=_latest_case("competitor"),
            agent_group=_latest_case("churn_group"),
            saves=Coalesce(Subquery(saves), 0),
        )
        .select_related("customer", "plan")
    )
    created = 0
    batch: list[LostCustomer] = []
    for row in source.iterator(chunk_size=5000):
        since = row.customer.customer_since
        left = timezone.localdate(row.cancelled_at)
        tenure = (left.year - since.year) * 12 + left.month - since.month
        if left.day < since.day:
            tenure -= 1
        batch.append(
            LostCustomer(
                subscription_id=row.pk,
                customer_id=row.customer_id,
                plan_id=row.plan_id,
                case_id=row.case_id,
                left_at=row.cancelled_at,
                monthly_value=row.monthly_amount,
                currency=row.currency,
                tenure_months=max(tenure, 0),
                contract_months=row.plan.contract_months,
                cancelled_by=row.cancelled_by,
                reason_id=row.reason_id,
                reason_text=row.reason_text or "",
                competitor=row.competitor or "",
                agent_churn_group=row.agent_group or "",
                churn_group=FALLBACK_GROUP,
                churn_group_source=ChurnGroupSource.FALLBACK,
                past_saves=row.saves,
                created_at=now,
            )
        )
        if len(batch) >= 5000:
            created += _insert(batch)
    created += _insert(batch)
    return created


def _insert(batch: list[LostCustomer]) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        done = LostCustomer.objects.bulk_create(batch, ignore_conflicts=True)
    batch.clear()
    return len(done)


def _group_and_source():
    """CASE expressions for (churn_group, churn_group_source), in the documented order."""
    branches = [
        (~Q(agent_churn_group=""), F("agent_churn_group"), ChurnGroupSource.AGENT),
        (~Q(reason_group=""), F("reason_group"), ChurnGroupSource.REASON),
        *((condition, Value(group), ChurnGroupSource.RULE) for condition, group in RULES),
    ]
    group = Case(
        *(When(condition, then=value) for condition, value, _ in branches),
        default=Value(FALLBACK_GROUP),
    )
    source = Case(
        *(When(condition, then=Value(src)) for condition, _, src in branches),
        default=Value(ChurnGroupSource.FALLBACK),
    )
    return group, source


def lost_customers_segment(*, queryset=None) -> int:
    """Put every lost customer (except those a manager re-segmented) in its churn group.

    Two UPDATE statements: refresh the reasons' default groups, then apply the order above.
    Side effects: contacts still planned for those whose group moved are re-checked
    (``services.outreach_skip_forbidden``).
    """
    queryset = LostCustomer.objects.all() if queryset is None else queryset
    queryset = queryset.exclude(churn_group_source=ChurnGroupSource.MANAGER)
    with transaction.atomic():
        queryset.update(
            reason_category=Coalesce(
                Subquery(
                    ExitReason.objects.filter(pk=OuterRef("reason_id")).values("category")[:1]
                ),
                Value(""),
            ),
            reason_group=Coalesce(
                Subquery(
                    ExitReason.objects.filter(pk=OuterRef("reason_id")).values(
                        "default_churn_group"
                    )[:1]
                ),
                Value(""),
            ),
        )
        group, source = _group_and_source()
        moved = _mark_contacted(
            queryset.annotate(new_group=group).exclude(churn_group=F("new_group"))
        )
        count = queryset.update(churn_group=group, churn_group_source=source)
        if moved:
            outreach_skip_forbidden(lost_customer_ids=moved)
        return count


def _mark_contacted(lost_customers) -> list[int]:
    """Outreach figures are kept by churn group: note the ones with outreach whose group
    moves (returned: their planned contacts are re-checked)."""
    ids = list(
        lost_customers.filter(
            Exists(Outreach.objects.filter(lost_customer=OuterRef("pk")))
        ).values_list("pk", flat=True)
    )
    changes_mark(kind=ChangeKind.LOST_CUSTOMER, ids=ids)
    return ids


def _capped(field: str, cap: float):
    return Least(Cast(F(field), FloatField()) / Value(float(max(cap, 1e-9))), Value(1.0))


def attractiveness_expression(*, now: datetime):
    """The 0-100 score as one SQL expression (weights and caps from settings).

    score = sum of weight * factor, each factor in [0, 1]: monthly value / value cap; tenure /
    tenure cap; the churn group's factor; past saves / saves cap; recency, falling by whole
    months from 1 (left this month) to 0 (TACK_WINBACK_RECENCY_MONTHS ago).
    """
    weights = settings.TACK_WINBACK_WEIGHTS
    horizon = max(settings.TACK_WINBACK_RECENCY_MONTHS, 1)
    group_factor = Case(
        *(
            When(churn_group=group, then=Value(float(factor)))
            for group, factor in settings.TACK_WINBACK_GROUP_FACTORS.items()
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )
    recency = Case(
        *(
            When(left_at__gt=add_months(now, -(months + 1)), then=Value(1 - months / horizon))
            for months in range(horizon)
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )
    total = (
        Value(float(weights.get("value", 0)))
        * _capped("monthly_value", settings.TACK_WINBACK_VALUE_CAP)
        + Value(float(weights.get("tenure", 0)))
        * _capped("tenure_months", settings.TACK_WINBACK_TENURE_CAP_MONTHS)
        + Value(float(weights.get("group", 0))) * group_factor
        + Value(float(weights.get("saves", 0)))
        * _capped("past_saves", settings.TACK_WINBACK_SAVES_CAP)
        + Value(float(weights.get("recency", 0))) * recency
    )
    scale = 100 / max(sum(weights.values()), 1)
    return Cast(Round(total * Value(scale)), IntegerField())


def lost_customers_score(*, queryset=None, now: datetime | None = None) -> int:
    """Score every lost customer in one UPDATE. Returns how many rows were scored."""
    now = now or timezone.now()
    queryset = LostCustomer.objects.all() if queryset is None else queryset
    return queryset.update(attractiveness=attractiveness_expression(now=now), scored_at=now)


@transaction.atomic
def lost_customers_resegment(*, queryset, churn_group: str, now: datetime | None = None) -> int:
    """A manager's re-segmentation (of one or many): sets the group, marks the source and
    re-scores. Side effects: contacts still planned that the new group forbids are skipped
    (``services.outreach_skip_forbidden``)."""
    if churn_group not in ChurnGroup.values:
        raise ValueError(churn_group)
    ids = list(queryset.values_list("pk", flat=True))
    rows = LostCustomer.objects.filter(pk__in=ids)
    moved = _mark_contacted(rows.exclude(churn_group=churn_group))
    count = rows.update(churn_group=churn_group, churn_group_source=ChurnGroupSource.MANAGER)
    lost_customers_score(queryset=rows, now=now)
    if moved:
        outreach_skip_forbidden(lost_customer_ids=moved, now=now)
    return count


def lost_customers_release_manager_groups(*, queryset) -> int:
    """Forget a manager's re-segmentation: the rows follow the ordinary order again.
    Side effects: contacts still planned that the new group forbids are skipped
    (``lost_customers_segment``)."""
    ids = list(queryset.values_list("pk", flat=True))
    rows = LostCustomer.objects.filter(pk__in=ids)
    rows.update(churn_group_source=ChurnGroupSource.FALLBACK)
    lost_customers_segment(queryset=rows)
    lost_customers_score(queryset=rows)
    return len(ids)
