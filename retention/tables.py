"""The dashboard's figures as named tables: shown under each chart and downloadable as CSV."""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from retention.selectors import CASE_DIMENSIONS, Uplift


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list]
    totals: list | None = None  # equals the card above it, or the note says why not
    note: str = ""

    def body_html(self) -> SafeString:
        """The rows as HTML, the first cell a row header: what a template loop over the
        cells would give (each value localised and escaped), built in one pass, because
        the page's tables hold a few thousand cells."""

        def cell(value) -> str:
            if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
                return str(value)  # counts: what localize() would give, without its checks
            return conditional_escape(localize(value))

        rows = [
            f'<tr><th scope="row">{cell(row[0])}</th>'
            + "".join(f"<td>{cell(value)}</td>" for value in row[1:])
            + "</tr>"
            for row in self.rows
        ]
        return mark_safe("\n".join(rows))  # noqa: S308 (every cell is escaped above)

    def csv_rows(self) -> list[list]:
        return [*self.rows, *([self.totals] if self.totals else [])]


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def uplift_text(value: Uplift) -> str:
    if not value.enough_data:
        return "not enough data yet"
    return (
        f"{value.difference * 100:+.1f} pp "
        f"(95% CI {value.low * 100:+.1f} to {value.high * 100:+.1f})"
    )


def summary_table(data: dict) -> Table:
    cases, previous = data["cases"], data["previous_cases"]
    winback, previous_winback = data["winback"], data["previous_winback"]
    rows = [
        ["Save rate", percent(cases["save_rate"]), percent(previous["save_rate"])],
        ["Save rate, web", percent(cases["web_save_rate"]), percent(previous["web_save_rate"])],
        [
            "Save rate, phone",
            percent(cases["phone_save_rate"]),
            percent(previous["phone_save_rate"]),
        ],
        [
            "Deflection rate",
            percent(cases["deflection_rate"]),
            percent(previous["deflection_rate"]),
        ],
        *(
            [
                f"Billing-verified save rate, {days} days",
                percent(cases[f"verified_{days}"]),
                percent(previous[f"verified_{days}"]),
            ]
            for days in (30, 60, 90)
        ),
        ["Saved", cases["saved"], previous["saved"]],
        ["Cancelled", cases["cancelled"], previous["cancelled"]],
        ["Abandoned", cases["abandoned"], previous["abandoned"]],
        [
            "Revenue kept per month (net of offers)",
            money(cases["revenue_kept_monthly"]),
            money(previous["revenue_kept_monthly"]),
        ],
        [
            "Revenue kept per year (net of offers)",
            money(cases["revenue_kept_annual"]),
            money(previous["revenue_kept_annual"]),
        ],
        ["Lost customers contacted", winback.contacted, previous_winback.contacted],
        ["Comebacks (attributed)", winback.comebacks, previous_winback.comebacks],
        ["Comebacks (organic)", winback.organic, previous_winback.organic],
        ["Hit rate", percent(winback.hit_rate), percent(previous_winback.hit_rate)],
        ["Value of win-back sales", money(winback.value), money(previous_winback.value)],
        [
            "Lifetime value of re-engaged customers",
            money(winback.lifetime_value),
            money(previous_winback.lifetime_value),
        ],
        ["Cost of the campaigns", money(winback.cost), money(previous_winback.cost)],
        [
            "ROI of the campaigns",
            percent(winback.roi),
            percent(previous_winback.roi),
        ],
        [
            "Cost per saved customer",
            money(cases["cost_per_save"]),
            money(previous["cost_per_save"]),
        ],
        [
            "Cost per won-back customer",
            money(winback.cost_per_comeback),
            money(previous_winback.cost_per_comeback),
        ],
    ]
    return Table("summary", "Summary", ["Figure", "This period", "Previous period"], rows)


DECIDED_KEYS = ("saved", "cancelled", "abandoned")


def case_tables(data: dict) -> list[Table]:
    tables = []
    for name, title in CASE_DIMENSIONS.items():
        rows = [
            [
                row["key"] or "(none)",
                row["saved"],
                row["cancelled"],
                row["abandoned"],
                percent(row["save_rate"]),
                money(row["kept_monthly"] or Decimal("0")),
            ]
            for row in data["breakdowns"][name]
        ]
        items = data["breakdowns"][name]
        saved, cancelled, abandoned = (sum(r[k] for r in items) for k in DECIDED_KEYS)
        totals = [
            "Total",
            saved,
            cancelled,
            abandoned,
            percent(saved / (saved + cancelled) if saved + cancelled else None),
            money(sum((r["kept_monthly"] or Decimal("0") for r in items), Decimal("0"))),
        ]
        tables.append(
            Table(
                f"cases_by_{name}",
                f"Cases by {title}",
                [
                    title.capitalize(),
                    "Saved",
                    "Cancelled",
                    "Abandoned",
                    "Save rate",
                    "Monthly revenue saved",
                ],
                rows,
                totals if items else None,
            )
        )
    return tables


def offer_table(data: dict) -> Table:
    rows = [
        [
            row["kind"],
            row["rule_name"] or "(rule deleted)",
            row["shown"],
            row["accepted"],
            percent(row["acceptance_rate"]),
            money(row["cost"]),
        ]
        for row in data["offers"]
    ]
    return Table(
        "offers",
        "Offers: shown and accepted",
        ["Offer", "Rule", "Shown", "Accepted", "Acceptance rate", "Cost"],
        rows,
    )


FUNNEL_STEPS = [
    ("opened", "Opened"),
    ("reason_chosen", "Reason chosen"),
    ("offers_shown", "Offer shown"),
    ("accepted", "Accepted an offer"),
    ("declined", "Declined and cancelled"),
    ("abandoned", "Abandoned"),
    ("still_open", "Still open"),
]


def funnel_table(data: dict) -> Table:
    opened = data["funnel"]["opened"]
    rows = [
        [label, data["funnel"][key], percent(data["funnel"][key] / opened if opened else None)]
        for key, label in FUNNEL_STEPS
    ]
    return Table("funnel", "Web funnel", ["Step", "Cases", "Share of opened"], rows)


WINBACK_TITLES = {
    "campaign": "campaign",
    "churn_group": "churn group",
    "channel": "channel",
    "message": "message",
    "attempt": "attempt",
}


def winback_tables(data: dict) -> list[Table]:
    tables = []
    for name, title in WINBACK_TITLES.items():
        rows = [
            [
                row["key"] or "(none)",
                row["contacted"],
                row["comebacks"],
                percent(row["hit_rate"]),
                row["holdout"],
                row["holdout_back"],
                uplift_text(row["uplift"]),
            ]
            for row in data["winback_breakdowns"][name]
        ]
        items = data["winback_breakdowns"][name]
        contacted = sum(r["contacted"] for r in items)
        comebacks = sum(r["comebacks"] for r in items)
        totals = [
            "Total",
            contacted,
            comebacks,
            percent(comebacks / contacted if contacted else None),
            sum(r["holdout"] for r in items),
            sum(r["holdout_back"] for r in items),
            "",
        ]
        note = (
            "Every contact made, not people: the total is the contacts made, and a comeback "
            "counts on the contact it is attributed to."
            if name == "attempt"
            else "The same people as the hit rate above: the total equals it."
        )
        tables.append(
            Table(
                f"winback_by_{name}",
                f"Win-back by {title}",
                [
                    title.capitalize(),
                    "Contacted",
                    "Comebacks",
                    "Hit rate",
                    "Holdout",
                    "Holdout comebacks",
                    "Uplift vs holdout",
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
            percent(week["save_rate"]),
            week.get("saved", 0),
            week.get("cancelled", 0),
            percent(week["hit_rate"]),
            week.get("comebacks", 0),
            week.get("contacted", 0),
        ]
        for week in data["weekly"]
    ]
    return Table(
        "weekly",
        "Weekly save rate and hit rate, last 12 months",
        ["Week", "Save rate", "Saved", "Cancelled", "Hit rate", "Comebacks", "Contacted"],
        rows,
    )


def mix_tables(data: dict) -> list[Table]:
    tables = []
    for name, title in (("reason", "exit reason"), ("churn_group", "churn group")):
        mix = data["mix"][name]
        columns = [title.capitalize(), *(month.strftime("%Y-%m") for month in mix["months"])]
        rows = [[row["key"], *row["counts"]] for row in mix["rows"]]
        tables.append(
            Table(
                f"cancellations_by_{name}_per_month",
                f"Cancellations by {title} per month",
                columns,
                rows,
            )
        )
    return tables


def all_tables(data: dict) -> list[Table]:
    return [
        summary_table(data),
        trend_table(data),
        *case_tables(data),
        offer_table(data),
        funnel_table(data),
        *winback_tables(data),
        *mix_tables(data),
    ]
