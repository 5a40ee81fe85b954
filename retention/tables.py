"""The dashboard's figures as named tables: shown on its tabs, sortable, downloadable as CSV.

Cells keep their values (a count, a ``Rate`` with the number it rests on, a ``Money``) so a
table sorts by value; they are written out in the manager's language when shown, and as
plain numbers in CSV. The first column holds labels, never codes."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from cancellations.enums import CaseChannel, ChurnGroup, OfferKind
from retention import formatting
from retention.selectors import CASE_DIMENSIONS, Uplift
from winback.enums import OutreachChannel


@dataclass(frozen=True)
class Rate:
    """A share and how many cases or people it rests on (greyed below the minimum)."""

    value: float | None
    count: int

    def __str__(self) -> str:
        return formatting.percent(self.value)

    @property
    def few(self) -> bool:
        return self.value is not None and self.count < settings.TACK_DASHBOARD_MIN_CASES

    def html(self) -> SafeString:
        if self.few:
            return format_html(
                '<span class="few" title="{}">{} <small>({})</small></span>',
                _("Only %(count)s — too few to read much into") % {"count": self.count},
                str(self),
                self.count,
            )
        return conditional_escape(str(self))


@dataclass(frozen=True)
class Money:
    value: Decimal | None

    def __str__(self) -> str:  # CSV: a plain number
        return "" if self.value is None else f"{self.value:.2f}"

    def html(self) -> str:
        return conditional_escape(formatting.money(self.value, decimals=2))


def sort_key(value):
    if isinstance(value, Rate | Money):
        value = value.value
    if value is None:
        return (0, 0)
    if isinstance(value, int | float | Decimal):
        return (1, value)
    return (2, str(value).lower())


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list]
    totals: list | None = None  # equals the card above it, or the note says why not
    note: str = ""
    sort_column: int | None = None
    sort_descending: bool = False

    def body_html(self) -> SafeString:
        """The rows as HTML, the first cell a row header, each value localised and escaped;
        built in one pass, because the page's tables hold a few thousand cells."""
        rows = [
            f'<tr><th scope="row">{cell(row[0])}</th>'
            + "".join(f"<td>{cell(value)}</td>" for value in row[1:])
            + "</tr>"
            for row in self.rows
        ]
        return mark_safe("\n".join(rows))  # noqa: S308 (every cell is escaped by cell())

    def totals_html(self) -> SafeString:
        if not self.totals:
            return mark_safe("")
        first, *rest = self.totals
        return mark_safe(  # noqa: S308 (every cell is escaped by cell())
            f'<tr class="totals"><th scope="row">{cell(first)}</th>'
            + "".join(f"<td>{cell(value)}</td>" for value in rest)
            + "</tr>"
        )

    def csv_rows(self) -> list[list]:
        return [*self.rows, *([self.totals] if self.totals else [])]

    def sorted_by(self, column: int, descending: bool) -> "Table":
        if not 0 <= column < len(self.columns):
            return self
        rows = sorted(self.rows, key=lambda row: sort_key(row[column]), reverse=descending)
        return Table(self.name, self.title, self.columns, rows, self.totals, self.note, self.chart)


def cell(value) -> str:
    if isinstance(value, Rate | Money):
        return value.html()
    if type(value) is int:
        return formatting.count(value)
    return conditional_escape(localize(value))


# --- Labels ----------------------------------------------------------------------------------

NONE = gettext_lazy("(none)")


def churn_group_label(key: str) -> str:
    return str(ChurnGroup(key).label) if key in ChurnGroup.values else key or str(NONE)


def offer_label(key: str) -> str:
    if not key:
        return _("No offer")
    return str(OfferKind(key).label) if key in OfferKind.values else key


def channel_label(key: str) -> str:
    labels = {
        CaseChannel.WEB: _("Web"),
        CaseChannel.PHONE: _("Phone"),
        CaseChannel.API: _("API"),
        OutreachChannel.EMAIL: _("Email"),
    }
    return labels.get(key, key or str(NONE))


def outcome_label(key: str) -> str:
    labels = {
        "open": _("Open"),
        "saved": _("Saved"),
        "cancelled": _("Cancelled"),
        "abandoned": _("Abandoned"),
    }
    return labels.get(key, key)


def attempt_label(key: str) -> str:
    return _("Attempt %(number)s") % {"number": key}


def plain_label(key: str) -> str:
    return key or str(NONE)


CASE_LABELS = {
    "churn_group": churn_group_label,
    "offer_kind": offer_label,
    "channel": channel_label,
}
CASE_TITLES = {
    "reason": gettext_lazy("Exit reason"),
    "churn_group": gettext_lazy("Churn group"),
    "offer_kind": gettext_lazy("Offer"),
    "offer_rule": gettext_lazy("Offer rule"),
    "channel": gettext_lazy("Channel"),
    "plan": gettext_lazy("Plan"),
    "tenure": gettext_lazy("Tenure"),
    "agent": gettext_lazy("Agent"),
}
assert set(CASE_TITLES) == set(CASE_DIMENSIONS)


def rate(part: int, whole: int) -> Rate:
    return Rate(part / whole if whole else None, whole)


# --- Tables ----------------------------------------------------------------------------------


def summary_table(data: dict) -> Table:
    cases, previous = data["cases"], data["previous_cases"]
    winback, previous_winback = data["winback"], data["previous_winback"]

    def case_rate(figures, prefix=""):
        s, c = figures[f"{prefix}saved"], figures[f"{prefix}cancelled"]
        return rate(s, s + c)

    def verified(figures, days):
        return rate(figures[f"kept_{days}"], figures[f"eligible_{days}"])

    rows = [
        [_("Save rate"), case_rate(cases), case_rate(previous)],
        [_("Save rate, web"), case_rate(cases, "web_"), case_rate(previous, "web_")],
        [_("Save rate, phone"), case_rate(cases, "phone_"), case_rate(previous, "phone_")],
        [
            _("Deflection rate"),
            rate(cases["saved"] + cases["abandoned"], cases["closed"]),
            rate(previous["saved"] + previous["abandoned"], previous["closed"]),
        ],
        *(
            [
                _("Billing-verified save rate, %(days)s days") % {"days": days},
                verified(cases, days),
                verified(previous, days),
            ]
            for days in (30, 60, 90)
        ),
        [_("Saved"), cases["saved"], previous["saved"]],
        [_("Cancelled"), cases["cancelled"], previous["cancelled"]],
        [_("Abandoned"), cases["abandoned"], previous["abandoned"]],
        [
            _("Revenue kept per month (net of offers)"),
            Money(cases["revenue_kept_monthly"]),
            Money(previous["revenue_kept_monthly"]),
        ],
        [
            _("Revenue kept per year (net of offers)"),
            Money(cases["revenue_kept_annual"]),
            Money(previous["revenue_kept_annual"]),
        ],
        [_("Lost customers contacted"), winback.contacted, previous_winback.contacted],
        [_("Of them, came back (hits)"), winback.hits, previous_winback.hits],
        [
            _("Hit rate"),
            rate(winback.hits, winback.contacted),
            rate(previous_winback.hits, previous_winback.contacted),
        ],
        [_("Contacts made"), winback.contacts, previous_winback.contacts],
        [_("Comebacks in the period (attributed)"), winback.comebacks, previous_winback.comebacks],
        [_("Comebacks in the period (organic)"), winback.organic, previous_winback.organic],
        [_("Value of win-back sales"), Money(winback.value), Money(previous_winback.value)],
        [
            _("Lifetime value of re-engaged customers"),
            Money(winback.lifetime_value),
            Money(previous_winback.lifetime_value),
        ],
        [_("Cost of the campaigns"), Money(winback.cost), Money(previous_winback.cost)],
        [
            _("ROI of the campaigns"),
            Rate(winback.roi, winback.comebacks),
            Rate(previous_winback.roi, previous_winback.comebacks),
        ],
        [
            _("Cost per customer kept"),
            Money(cases["cost_per_save"]),
            Money(previous["cost_per_save"]),
        ],
        [
            _("Cost per customer won back"),
            Money(winback.cost_per_comeback),
            Money(previous_winback.cost_per_comeback),
        ],
    ]
    return Table(
        "summary", _("Summary"), [_("Figure"), _("This period"), _("Previous period")], rows
    )


DECIDED_KEYS = ("saved", "cancelled", "abandoned")


def case_tables(data: dict, reason_labels: dict[str, str]) -> list[Table]:
    tables = []
    for name in CASE_DIMENSIONS:
        label = CASE_LABELS.get(name, plain_label)
        if name == "reason":
            label = lambda key: reason_labels.get(key) or plain_label(key)  # noqa: E731
        items = data["breakdowns"][name]
        rows = [
            [
                label(row["key"]),
                row["saved"],
                row["cancelled"],
                row["abandoned"],
                rate(row["saved"], row["saved"] + row["cancelled"]),
                Money(row["kept_monthly"] or Decimal("0")),
            ]
            for row in items
        ]
        saved, cancelled, abandoned = (sum(r[k] for r in items) for k in DECIDED_KEYS)
        totals = [
            _("Total"),
            saved,
            cancelled,
            abandoned,
            rate(saved, saved + cancelled),
            Money(sum((r["kept_monthly"] or Decimal("0") for r in items), Decimal("0"))),
        ]
        tables.append(
            Table(
                f"cases_by_{name}",
                _("Cases by %(dimension)s") % {"dimension": str(CASE_TITLES[name]).lower()},
                [
                    str(CASE_TITLES[name]),
                    _("Saved"),
                    _("Cancelled"),
                    _("Abandoned"),
                    _("Save rate"),
                    _("Monthly revenue saved"),
                ],
                rows,
                totals if items else None,
                _("Every case decided in the period, once: the total equals the cards."),
            )
        )
    return tables


def offer_table(data: dict) -> Table:
    rows = [
        [
            offer_label(row["kind"]),
            row["rule_name"] or _("(rule deleted)"),
            row["shown"],
            row["accepted"],
            rate(row["accepted"], row["shown"]),
            Money(row["cost"]),
        ]
        for row in data["offers"]
    ]
    return Table(
        "offers",
        _("Offers: shown and accepted"),
        [_("Offer"), _("Rule"), _("Shown"), _("Accepted"), _("Acceptance rate"), _("Cost")],
        rows,
        note=_(
            "Offers shown in the period, by when they were shown: a case can see two offers, "
            "and a callback accepted keeps its case open, so these do not add up to the cases."
        ),
    )


def funnel_steps():
    return [
        ("opened", _("Opened")),
        ("reason_chosen", _("Reason chosen")),
        ("reason_skipped", _("Cancelled without a reason")),
        ("offers_shown", _("Offer shown")),
        ("accepted", _("Accepted an offer")),
        ("declined", _("Declined and cancelled")),
        ("abandoned", _("Abandoned")),
        ("still_open", _("Still open")),
    ]


def funnel_table(data: dict) -> Table:
    opened = data["funnel"]["opened"]
    rows = [
        [label, data["funnel"][key], rate(data["funnel"][key], opened)]
        for key, label in funnel_steps()
    ]
    return Table(
        "funnel",
        _("Web funnel"),
        [_("Step"), _("Cases"), _("Share of opened")],
        rows,
        note=_(
            "Self-service web cases opened in the period (not decided; not those opened "
            "through a link staff made), so it differs from the cards. A case opens at the "
            "customer's first click, never when the link is only viewed, so link scanners "
            "are not counted; those who cancelled without a reason saw no offer."
        ),
    )


WINBACK_TITLES = {
    "campaign": gettext_lazy("Campaign"),
    "churn_group": gettext_lazy("Churn group"),
    "channel": gettext_lazy("Channel"),
    "message": gettext_lazy("Message"),
    "attempt": gettext_lazy("Attempt"),
}
WINBACK_LABELS = {
    "churn_group": churn_group_label,
    "channel": channel_label,
    "attempt": attempt_label,
}


def uplift_text(value: Uplift) -> str:
    if not value.enough_data:
        return _("not enough data yet")
    return _("%(difference)s pp (95%% CI %(low)s to %(high)s)") % {
        "difference": f"{value.difference * 100:+.1f}",
        "low": f"{value.low * 100:+.1f}",
        "high": f"{value.high * 100:+.1f}",
    }


def winback_tables(data: dict) -> list[Table]:
    tables = []
    for name, title in WINBACK_TITLES.items():
        label = WINBACK_LABELS.get(name, plain_label)
        items = data["winback_breakdowns"][name]
        rows = [
            [
                label(row["key"]),
                row["contacted"],
                row["comebacks"],
                rate(row["comebacks"], row["contacted"]),
                row["holdout"],
                row["holdout_back"],
                uplift_text(row["uplift"]),
            ]
            for row in items
        ]
        contacted = sum(r["contacted"] for r in items)
        comebacks = sum(r["comebacks"] for r in items)
        totals = [
            _("Total"),
            contacted,
            comebacks,
            rate(comebacks, contacted),
            sum(r["holdout"] for r in items),
            sum(r["holdout_back"] for r in items),
            "",
        ]
        note = (
            _(
                "Every contact made, not people: the total is the contacts made, and a "
                "comeback counts on the contact it is attributed to."
            )
            if name == "attempt"
            else _("The same people as the hit rate: the total equals it.")
        )
        tables.append(
            Table(
                f"winback_by_{name}",
                _("Win-back by %(dimension)s") % {"dimension": str(title).lower()},
                [
                    str(title),
                    _("Contacted"),
                    _("Came back"),
                    _("Hit rate"),
                    _("Holdout"),
                    _("Holdout came back"),
                    _("Uplift vs holdout"),
                ],
                rows,
                totals if items else None,
                note,
            )
        )
    return tables


def trend_table(data: dict) -> Table:
    rows = [
        [
            week["week"].isoformat(),
            rate(week.get("saved", 0), week.get("saved", 0) + week.get("cancelled", 0)),
            week.get("saved", 0),
            week.get("cancelled", 0),
            rate(week.get("comebacks", 0), week.get("contacted", 0)),
            week.get("comebacks", 0),
            week.get("contacted", 0),
        ]
        for week in data["weekly"]
    ]
    return Table(
        "weekly",
        _("Weekly save rate and hit rate, last 12 months"),
        [
            _("Week"),
            _("Save rate"),
            _("Saved"),
            _("Cancelled"),
            _("Hit rate"),
            _("Came back"),
            _("Contacted"),
        ],
        rows,
    )


def mix_tables(data: dict, reason_labels: dict[str, str]) -> list[Table]:
    tables = []
    for name, title, label in (
        ("reason", CASE_TITLES["reason"], lambda k: reason_labels.get(k) or plain_label(k)),
        ("churn_group", CASE_TITLES["churn_group"], churn_group_label),
    ):
        mix = data["mix"][name]
        columns = [str(title), *(month.strftime("%Y-%m") for month in mix["months"])]
        rows = [
            [
                pgettext("the rest", "Other") if row["key"] == "other" else label(row["key"]),
                *row["counts"],
            ]
            for row in mix["rows"]
        ]
        tables.append(
            Table(
                f"cancellations_by_{name}_per_month",
                _("Cancellations by %(dimension)s per month") % {"dimension": str(title).lower()},
                columns,
                rows,
            )
        )
    return tables


def all_tables(data: dict, reason_labels: dict[str, str] | None = None) -> list[Table]:
    reason_labels = reason_labels or {}
    return [
        summary_table(data),
        trend_table(data),
        *case_tables(data, reason_labels),
        offer_table(data),
        funnel_table(data),
        *winback_tables(data),
        *mix_tables(data, reason_labels),
    ]
