"""The managers' figures, assembled for the dashboard and the API.

The counts and sums come from a *source*: the daily rollups (``retention.rollups``, the
default, what the page reads) or the raw scan (``retention.scan``, the reference they must
equal). Both answer the same seven questions in SQL, one statement each; Python only divides
the few totals that come back and sorts the short lists, so a page costs the same number of
queries at ten rows as at a million.

What each figure means, and which population it counts, is written once in
``retention.definitions`` (shown on the page and in the API's documentation).
"""

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import ModuleType

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, DateTimeField, F, Func, Q, Subquery, Value
from django.db.models.functions import Cast, Concat, TruncMonth
from django.utils import timezone

from cancellations.models import CancellationCase, ExitReason
from core.models import BillingCommand, ChangeMark
from core.outbox.billing import NOT_CARRIED_OUT
from retention import rollups, scan
from retention.models import RollupState
from retention.periods import Filters, day_start
from retention.scan import VERIFY_DAYS, ZERO
from subscriptions.models import Plan
from winback.models import Campaign

__all__ = ["Filters", "dashboard", "page_meta"]

CENT = Decimal("0.01")
UNIT_SEPARATOR = "\x1f"
ROLLUPS: ModuleType = rollups
SCAN: ModuleType = scan

CASE_DIMENSIONS = {
    "reason": "exit reason",
    "churn_group": "churn group",
    "offer_kind": "offer kind",
    "offer_rule": "offer rule",
    "channel": "channel",
    "plan": "plan",
    "tenure": "tenure",
    "agent": "agent",
}


def ratio(part, whole) -> float | None:
    return None if not whole else float(part) / float(whole)


# --- Cases ---------------------------------------------------------------------------


def case_summaries(
    filters: Filters, *, now: datetime | None = None, source: ModuleType = ROLLUPS
) -> tuple[dict, dict]:
    """Totals, by channel, money and billing verification, for the period and the one
    before it."""
    today = timezone.localdate(now or timezone.now())
    rows = source.case_totals(filters, today=today)
    empty = {
        **dict.fromkeys(
            [
                f"{prefix}{outcome}"
                for prefix in ("", "web_", "phone_", "api_")
                for outcome in scan.DECIDED
            ],
            0,
        ),
        **{f"{kind}_{days}": 0 for kind in ("eligible", "kept") for days in VERIFY_DAYS},
        "kept_monthly": ZERO,
        "offer_cost": ZERO,
    }
    return (
        _derive_case_figures(rows.get("current", empty)),
        _derive_case_figures(rows.get("previous", empty)),
    )


def case_summary(filters: Filters, *, now: datetime | None = None, source=ROLLUPS) -> dict:
    return case_summaries(filters, now=now, source=source)[0]


def _derive_case_figures(row: dict) -> dict:
    figures = dict(row)
    for prefix in ("", "web_", "phone_", "api_"):
        s, c, a = row[f"{prefix}saved"], row[f"{prefix}cancelled"], row[f"{prefix}abandoned"]
        figures[f"{prefix}closed"] = s + c + a
        figures[f"{prefix}save_rate"] = ratio(s, s + c)
        figures[f"{prefix}deflection_rate"] = ratio(s + a, s + c + a)
    for days in VERIFY_DAYS:
        figures[f"verified_{days}"] = ratio(row[f"kept_{days}"], row[f"eligible_{days}"])
    annual = (row["kept_monthly"] * 12 - row["offer_cost"]).quantize(CENT)
    figures["revenue_kept_annual"] = annual
    figures["revenue_kept_monthly"] = (annual / 12).quantize(CENT)
    figures["calls"] = figures["phone_closed"]
    figures["retain_cost"] = (
        row["offer_cost"] + figures["calls"] * Decimal(str(settings.TACK_COST_PER_CALL))
    ).quantize(CENT)
    figures["cost_per_save"] = (
        (figures["retain_cost"] / row["saved"]).quantize(CENT) if row["saved"] else None
    )
    return figures


def case_breakdowns(filters: Filters, *, source: ModuleType = ROLLUPS) -> dict[str, list[dict]]:
    """Saved / cancelled / abandoned, revenue kept and the save rate by every dimension."""
    result: dict[str, list[dict]] = {name: [] for name in CASE_DIMENSIONS}
    for row in source.case_breakdown_rows(filters):
        s, c, a = row["saved"], row["cancelled"], row["abandoned"]
        result[row["dimension"]].append({**row, "save_rate": ratio(s, s + c), "closed": s + c + a})
    for rows in result.values():
        rows.sort(key=lambda r: (-r["closed"], r["key"]))
    return result


def offer_acceptance(filters: Filters, *, source: ModuleType = ROLLUPS) -> list[dict]:
    """Per offer kind and rule: how often it was shown and how often accepted."""
    rows = sorted(
        source.offer_rows(filters), key=lambda r: (-r["shown"], r["kind"], r["rule_name"])
    )
    for row in rows:
        row["acceptance_rate"] = ratio(row["accepted"], row["shown"])
    return rows


def web_funnel(filters: Filters, *, source: ModuleType = ROLLUPS) -> dict:
    """Web cases opened in the period: how far they got."""
    return source.funnel(filters)


# --- Win-back --------------------------------------------------------------------------


@dataclass(frozen=True)
class Uplift:
    enough_data: bool
    difference: float | None = None
    low: float | None = None
    high: float | None = None
    contacted_rate: float | None = None
    holdout_rate: float | None = None


def uplift(hits: int, contacted: int, holdout_hits: int, holdout: int) -> Uplift:
    """Hit rate of the contacted minus the holdout's, with a 95% (normal) interval."""
    minimum = settings.TACK_UPLIFT_MIN_GROUP
    if contacted < minimum or holdout < minimum:
        return Uplift(
            False, contacted_rate=ratio(hits, contacted), holdout_rate=ratio(holdout_hits, holdout)
        )
    p1, p0 = hits / contacted, holdout_hits / holdout
    margin = 1.96 * math.sqrt(p1 * (1 - p1) / contacted + p0 * (1 - p0) / holdout)
    difference = p1 - p0
    return Uplift(True, difference, difference - margin, difference + margin, p1, p0)


WINBACK_DIMENSIONS = ("campaign", "churn_group", "channel", "message", "attempt")


def winback_breakdowns(filters: Filters, *, source: ModuleType = ROLLUPS) -> dict[str, list[dict]]:
    """Contacted, comebacks, hit rate and the holdout's hit rate by campaign, churn group,
    channel and message (campaign × language) over first contacts, and by attempt."""
    result: dict[str, list[dict]] = {name: [] for name in WINBACK_DIMENSIONS}
    for row in source.winback_breakdown_rows(filters):
        if row["dimension"] == "message":
            row["key"] = f"{row['key']} ({row['lang']})"
        row["hit_rate"] = ratio(row["comebacks"], row["contacted"])
        row["uplift"] = uplift(
            row["contacted_back"], row["contacted"], row["holdout_back"], row["holdout"]
        )
        result[row["dimension"]].append(row)
    for rows in result.values():
        rows.sort(key=lambda r: (-r["contacted"], r["key"]))
    return result


@dataclass
class WinbackSummary:
    contacted: int = 0
    hits: int = 0
    contacts: int = 0
    calls: int = 0
    comebacks: int = 0
    organic: int = 0
    value: Decimal = ZERO
    offer_cost: Decimal = ZERO
    lifetime_value: Decimal = ZERO

    @property
    def hit_rate(self) -> float | None:
        return ratio(self.hits, self.contacted)

    @property
    def cost(self) -> Decimal:
        emails = self.contacts - self.calls
        per_email = Decimal(str(settings.TACK_COST_PER_EMAIL))
        per_call = Decimal(str(settings.TACK_COST_PER_CALL))
        return (self.offer_cost + emails * per_email + self.calls * per_call).quantize(CENT)

    @property
    def roi(self) -> float | None:
        return None if not self.cost else float((self.value - self.cost) / self.cost)

    @property
    def cost_per_comeback(self) -> Decimal | None:
        return (self.cost / self.comebacks).quantize(CENT) if self.comebacks else None


def winback_summaries(
    filters: Filters, *, now: datetime | None = None, source: ModuleType = ROLLUPS
) -> tuple[WinbackSummary, WinbackSummary]:
    """Contacts made and comebacks in the period and the one before, what they are worth and
    what they cost."""
    now = now or timezone.now()
    totals = {series: WinbackSummary() for series in ("current", "previous")}
    renamed = {"people": "contacted", "attributed": "comebacks"}
    for row in source.winback_totals(filters, now=now):
        summary = totals[row.pop("series")]
        for key, value in row.items():
            name = renamed.get(key, key)
            setattr(summary, name, getattr(summary, name) + (value or 0))
    return totals["current"], totals["previous"]


def winback_summary(filters: Filters, *, now: datetime | None = None, source=ROLLUPS):
    return winback_summaries(filters, now=now, source=source)[0]


# --- Trends -------------------------------------------------------------------------------


def trends(
    filters: Filters,
    *,
    now: datetime | None = None,
    source: ModuleType = ROLLUPS,
    mix: bool = True,
) -> dict:
    """Over the last 12 months: save rate and hit rate per week, and (unless ``mix`` is off)
    cancellations per month by exit reason and by churn group (the top five of each, the
    rest as "other")."""
    end = timezone.localdate(now or timezone.now())
    window = replace(filters, start=end - timedelta(weeks=52), end=end)
    by_week: dict[date, dict] = {}
    months: dict[str, dict] = {"reason": {}, "churn_group": {}}
    for row in source.trend_rows(window, mix=mix):
        day = row["period"].date() if isinstance(row["period"], datetime) else row["period"]
        if row["series"] in months:
            months[row["series"]].setdefault(row["key"] or "(none)", {})[day] = row["a"]
            continue
        entry = by_week.setdefault(day, {"week": day, "save_rate": None, "hit_rate": None})
        a, b = row["a"], row["b"]
        if row["series"] == "cases":
            entry.update(saved=a, cancelled=b, save_rate=ratio(a, a + b))
        else:
            entry.update(comebacks=a, contacted=b, hit_rate=ratio(a, b))
    return {
        "weekly": [by_week[week] for week in sorted(by_week)],
        **({"mix": {name: _top(series, 5) for name, series in months.items()}} if mix else {}),
    }


def _top(series: dict[str, dict], count: int) -> dict:
    totals = sorted(series, key=lambda key: (-sum(series[key].values()), key))
    months = sorted({month for values in series.values() for month in values})
    top = totals[:count]
    rows = [{"key": key, "counts": [series[key].get(m, 0) for m in months]} for key in top]
    rest = totals[count:]
    if rest:
        rows.append(
            {
                "key": "other",
                "counts": [sum(series[key].get(m, 0) for key in rest) for m in months],
            }
        )
    return {"months": months, "rows": rows}


# --- The page -----------------------------------------------------------------------------


def reason_field(language: str | None) -> str:
    field = f"label_{(language or 'en')[:2]}"
    return field if field in {f.name for f in ExitReason._meta.fields} else "label_en"


def page_meta(language: str | None = None) -> tuple[dict[str, list[tuple[int, str]]], dict]:
    """The filter form's plans and campaigns, the exit reasons' labels in ``language``
    (``choices["reason"]``: (English label, label), the figures being keyed by the English
    one), and how fresh the rollups are (when they were last brought up to date, how many
    changes wait to be counted), and how many decisions billing refused or never answered
    (``freshness["billing_not_carried_out"]``, a live count waiting for a manager's retry):
    one query, so a page costs the same number of queries every time."""
    no_time = Cast(Value(None), DateTimeField())  # typed, or the UNION settles on text
    pending = ChangeMark.objects.annotate(n=Func(F("pk"), function="COUNT")).values("n")
    not_carried_out = (
        BillingCommand.objects.filter(status__in=NOT_CARRIED_OUT)
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    parts = [
        Plan.objects.values(kind=Value("plan"), ident=F("pk"), label=F("name"), at=no_time),
        Campaign.objects.values(kind=Value("campaign"), ident=F("pk"), label=F("name"), at=no_time),
        ExitReason.objects.values(
            kind=Value("reason"),
            ident=F("pk"),
            label=Concat(F("label_en"), Value(UNIT_SEPARATOR), F(reason_field(language))),
            at=no_time,
        ),
        RollupState.objects.filter(pk=1).values(
            kind=Value("state"), ident=Subquery(pending), label=Value(""), at=F("refreshed_at")
        ),
        # Anchored on the model's content type: a row that always exists, so the count
        # comes back even when it is zero.
        ContentType.objects.filter(app_label="core", model="billingcommand").values(
            kind=Value("billing"), ident=Subquery(not_carried_out), label=Value(""), at=no_time
        ),
    ]
    choices: dict[str, list] = {"plan": [], "campaign": [], "reason": []}
    freshness: dict = {"refreshed_at": None, "pending": None}  # never counted yet
    billing = 0
    for row in parts[0].order_by().union(*[part.order_by() for part in parts[1:]], all=True):
        if row["kind"] == "billing":
            billing = row["ident"] or 0
        elif row["kind"] == "state":
            freshness = {"refreshed_at": row["at"], "pending": row["ident"]}
        elif row["kind"] == "reason":
            english, _sep, label = row["label"].partition(UNIT_SEPARATOR)
            choices["reason"].append((english, label or english))
        else:
            choices[row["kind"]].append((row["ident"], row["label"]))
    for values in choices.values():
        values.sort(key=lambda choice: choice[1])
    return choices, {**freshness, "billing_not_carried_out": billing}


def dashboard(
    filters: Filters,
    *,
    now: datetime | None = None,
    source: ModuleType = ROLLUPS,
    overview: bool = False,
) -> dict:
    """Everything the dashboard shows, in a fixed number of queries whatever the data size;
    with ``overview``, only what its first screen shows (the cards against the previous
    period and the weekly rates), not the breakdowns of the other tabs."""
    now = now or timezone.now()
    cases, previous_cases = case_summaries(filters, now=now, source=source)
    winback, previous_winback = winback_summaries(filters, now=now, source=source)
    data = {
        "filters": filters,
        "now": now,
        "cases": cases,
        "previous_cases": previous_cases,
        "winback": winback,
        "previous_winback": previous_winback,
        **trends(filters, now=now, source=source, mix=not overview),
        "retain_vs_winback": retain_vs_winback(cases, winback),
    }
    if not overview:
        data["breakdowns"] = case_breakdowns(filters, source=source)
        data["offers"] = offer_acceptance(filters, source=source)
        data["funnel"] = web_funnel(filters, source=source)
        data["winback_breakdowns"] = winback_breakdowns(filters, source=source)
    return data


def retain_vs_winback(cases: dict, winback: WinbackSummary) -> dict:
    """Cost per customer kept against cost per customer won back, over the same period and
    on the same footing (offers as revenue forgone over 12 months, agents' and contacts'
    time at the configured costs), with the counts they rest on."""
    per_save, per_comeback = cases["cost_per_save"], winback.cost_per_comeback
    return {
        "saves": cases["saved"],
        "calls": cases["calls"],
        "retain_cost": cases["retain_cost"],
        "cost_per_save": per_save,
        "comebacks": winback.comebacks,
        "contacts": winback.contacts,
        "winback_cost": winback.cost,
        "cost_per_comeback": per_comeback,
        "ratio": float(per_comeback / per_save) if per_save and per_comeback else None,
    }


# --- Voice of the customer ----------------------------------------------------------------


@dataclass(frozen=True)
class VoiceFilters:
    start: date
    end: date  # inclusive
    reason: int | None = None
    plan: int | None = None
    channel: str = ""
    search: str = ""


HAS_TEXT, HAS_COMPETITOR = ~Q(reason_text=""), ~Q(competitor="")


def voice_cases(filters: VoiceFilters, *, now: datetime | None = None):
    """Cancellation cases opened in the period with the customer's own words or a named
    competitor, newest first: never a text the free-text limit or an erasure has cleared
    (they are blank then) nor one older than the limit."""
    return _voice(filters, HAS_TEXT | HAS_COMPETITOR, now=now).order_by("-opened_at", "-pk")


def _voice(filters: VoiceFilters, said: Q, *, now: datetime | None = None):
    """The cases matching ``filters`` among those where the customer ``said`` something
    (the condition of a partial index on the opening time, which the counts read alone)."""
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.TACK_FREE_TEXT_RETENTION_DAYS)
    cases = CancellationCase.objects.filter(
        said,
        opened_at__gte=max(day_start(filters.start), oldest),
        opened_at__lt=day_start(filters.end + timedelta(days=1)),
    )
    if filters.reason:
        cases = cases.filter(reason_id=filters.reason)
    if filters.plan:
        cases = cases.filter(plan_id=filters.plan)
    if filters.channel:
        cases = cases.filter(channel=filters.channel)
    if filters.search:
        words = filters.search
        # Each side carries its index's condition, so the trigram indexes serve the search.
        cases = cases.filter(
            (HAS_TEXT & Q(reason_text__icontains=words))
            | (HAS_COMPETITOR & Q(competitor__icontains=words))
        )
    return cases


def voice_reasons(language: str | None) -> list[tuple[int, str]]:
    """The exit reasons to filter by, labelled in ``language``."""
    return list(
        ExitReason.objects.order_by(reason_field(language)).values_list(
            "pk", reason_field(language)
        )
    )


def voice_rows(cases):
    """The columns the page and its CSV show (no name, email or other personal data)."""
    return cases.values(
        "pk",
        "opened_at",
        "channel",
        "outcome",
        "reason_id",
        "reason_text",
        "competitor",
        plan_name=F("plan__name"),
    )


def voice_count(filters: VoiceFilters, *, now: datetime | None = None) -> int:
    """How many cases ``voice_cases`` lists: read from an index alone (no join, no row)."""
    return _voice(filters, HAS_TEXT | HAS_COMPETITOR, now=now).count()


def competitor_counts(filters: VoiceFilters, *, now: datetime | None = None) -> dict:
    """Named competitors per month (case and spacing ignored): the eight most named and the
    rest as "other", in one GROUP BY over an index that holds the names (no row is read
    unless a search needs the words)."""
    named = (
        _voice(filters, HAS_COMPETITOR, now=now)
        .annotate(month=TruncMonth("opened_at"))
        .values("competitor", "month")
        .annotate(n=Count("*"))
        .order_by()
    )
    series: dict[str, dict] = {}
    for row in named:  # names as typed, a few hundred rows: folded here, not per case
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        counts = series.setdefault(row["competitor"].strip().lower(), {})
        counts[month] = counts.get(month, 0) + row["n"]
    return _top(series, 8)
