"""Small server-side SVG charts: no JavaScript, nothing loaded from outside, a table beneath
each one for reading and for screen readers (the SVG itself is marked as an image with a
title)."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ["#2f6f62", "#c2703d", "#4a6fa5", "#8a5a9b", "#b08b2e", "#6b7b80"]
WIDTH, HEIGHT = 720, 220
PAD_LEFT, PAD_BOTTOM, PAD_TOP, PAD_RIGHT = 44, 28, 12, 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _frame(title: str, body: list[str], legend: list[tuple[str, str]]) -> SafeString:
    items, x, row = [], PAD_LEFT, 0
    for name, color in legend:
        width = 24 + 6.5 * len(str(name))  # about the width of an 11px label
        if x + width > WIDTH - PAD_RIGHT and x > PAD_LEFT:  # wrap, never overlap
            x, row = PAD_LEFT, row + 1
        items.append(
            f'<g transform="translate({x:.0f},{HEIGHT + 8 + 14 * row})">'
            f'<rect width="10" height="10" y="-9" fill="{color}"/>'
            f'<text x="14" font-size="11">{escape(name)}</text></g>'
        )
        x += width
    height = HEIGHT + 14 * (row + 1) + (6 if legend else 0)
    svg = (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f"{''.join(body)}{''.join(items)}</svg>"
    )
    return mark_safe(svg)  # noqa: S308 - every label above is escaped


def _y(value: float, top: float) -> float:
    plot = HEIGHT - PAD_BOTTOM - PAD_TOP
    return HEIGHT - PAD_BOTTOM - (value / top) * plot if top else HEIGHT - PAD_BOTTOM


def _axes(top: float, percent: bool) -> list[str]:
    lines = []
    for step in range(5):
        value = top * step / 4
        y = _y(value, top)
        label = f"{value:.0%}" if percent else f"{value:,.0f}"
        lines.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e3dfd6"/><text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="10" '
            f'text-anchor="end">{label}</text>'
        )
    return lines


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], *, percent: bool = True
) -> SafeString:
    """One line per series over the labels (gaps where a value is None)."""
    values = [v for s in series for v in s.values if v is not None]
    top = max(values, default=0) or 1
    if percent:
        top = min(1.0, max(top * 1.1, 0.1))
    count = max(len(labels), 2)
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT
    body = _axes(top, percent)
    for index, label in enumerate(labels):
        if index % max(1, len(labels) // 6) == 0:
            x = PAD_LEFT + plot_width * index / (count - 1)
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    legend = []
    for number, line in enumerate(series):
        color = PALETTE[number % len(PALETTE)]
        legend.append((line.name, color))
        segment: list[str] = []
        for index, value in enumerate(line.values):
            if value is None:
                if len(segment) > 1:
                    body.append(_polyline(segment, color))
                segment = []
                continue
            x = PAD_LEFT + plot_width * index / (count - 1)
            segment.append(f"{x:.1f},{_y(min(value, top), top):.1f}")
        if len(segment) > 1:
            body.append(_polyline(segment, color))
        elif len(segment) == 1:
            x, y = segment[0].split(",")
            body.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
    return _frame(title, body, legend)


def _polyline(points: list[str], color: str) -> str:
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>'


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], *, percent: bool = False
) -> SafeString:
    """Horizontal bars, one per (label, value)."""
    bars = list(bars)[:12]
    top = max((value for _, value in bars), default=0) or 1
    row = (HEIGHT - PAD_TOP) / max(len(bars), 1)
    left = 220
    body = []
    for index, (label, value) in enumerate(bars):
        y = PAD_TOP + index * row
        width = (WIDTH - left - 60) * value / top
        shown = f"{value:.0%}" if percent else f"{value:,.0f}"
        body.append(
            f'<text x="{left - 8}" y="{y + row * 0.6:.1f}" font-size="11" text-anchor="end">'
            f"{escape(label[:34])}</text>"
            f'<rect x="{left}" y="{y + row * 0.15:.1f}" width="{width:.1f}" '
            f'height="{row * 0.7:.1f}" fill="{PALETTE[0]}"/>'
            f'<text x="{left + width + 4:.1f}" y="{y + row * 0.6:.1f}" font-size="11">'
            f"{shown}</text>"
        )
    return _frame(title, body, [])


def rate_with_volume(
    title: str,
    labels: Sequence[str],
    rates: Sequence[float | None],
    counts: Sequence[int],
    *,
    rate_name: str,
    count_name: str,
    minimum: int,
) -> SafeString:
    """A rate per period as a line over the number of cases it rests on as bars (their own
    scale, right), so a week of two cases cannot pass for a trend: points on fewer than
    ``minimum`` cases are drawn hollow."""
    count = max(len(labels), 1)
    plot_width = WIDTH - PAD_LEFT - PAD_RIGHT - 30
    slot = plot_width / count
    top_count = max(counts, default=0) or 1
    body = _axes(1.0, True)
    for index, value in enumerate(counts):
        height = (HEIGHT - PAD_BOTTOM - PAD_TOP) * value / top_count
        body.append(
            f'<rect x="{PAD_LEFT + slot * index + slot * 0.15:.1f}" '
            f'y="{HEIGHT - PAD_BOTTOM - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="#d9d4c7"/>'
        )
    body.append(
        f'<text x="{WIDTH - PAD_RIGHT}" y="{PAD_TOP + 4}" font-size="10" text-anchor="end">'
        f"{top_count:,}</text>"
    )
    for index, label in enumerate(labels):
        if index % max(1, len(labels) // 6) == 0:
            x = PAD_LEFT + slot * (index + 0.5)
            body.append(
                f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    color = PALETTE[0]
    points = []
    for index, value in enumerate(rates):
        if value is None:
            continue
        x, y = PAD_LEFT + slot * (index + 0.5), _y(value, 1.0)
        points.append(f"{x:.1f},{y:.1f}")
        fill = color if counts[index] >= minimum else "white"
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="{color}"/>')
    if len(points) > 1:
        body.insert(len(body) - len(points), _polyline(points, color))
    return _frame(title, body, [(rate_name, color), (count_name, "#d9d4c7")])


def overview_charts(data: dict, *, minimum: int) -> dict[str, SafeString]:
    """The overview's two charts: save rate and hit rate by week, with their volumes."""
    weeks = data["weekly"]
    labels = [week["week"].strftime("%d %b") for week in weeks]
    return {
        "save_rate": rate_with_volume(
            _("Save rate by week, with the decided cases"),
            labels,
            [week["save_rate"] for week in weeks],
            [week.get("saved", 0) + week.get("cancelled", 0) for week in weeks],
            rate_name=_("Save rate"),
            count_name=_("Saved + cancelled"),
            minimum=minimum,
        ),
        "hit_rate": rate_with_volume(
            _("Hit rate by week, with the lost customers contacted"),
            labels,
            [week["hit_rate"] for week in weeks],
            [week.get("contacted", 0) for week in weeks],
            rate_name=_("Hit rate"),
            count_name=_("Contacted"),
            minimum=minimum,
        ),
    }


def dashboard_charts(data: dict, *, minimum: int) -> dict[str, SafeString]:
    """The dashboard's charts from its data: the overview's two, and one per tab where a
    person would rather look than read."""
    mix = data["mix"]
    return {
        **overview_charts(data, minimum=minimum),
        "reasons": bar_chart(
            _("Save rate by exit reason"),
            [(row[0], row[4].value or 0.0) for row in data["tables"]["cases_by_reason"].rows],
            percent=True,
        ),
        "groups": bar_chart(
            _("Cases by churn group"),
            [
                (row[0], row[1] + row[2] + row[3])
                for row in data["tables"]["cases_by_churn_group"].rows
            ],
        ),
        "reasons_over_time": line_chart(
            _("Cancellations by exit reason per month"),
            [month.strftime("%b %Y") for month in mix["reason"]["months"]],
            [
                Series(row[0], row[1:])
                for row in data["tables"]["cancellations_by_reason_per_month"].rows
            ],
            percent=False,
        ),
        "groups_over_time": line_chart(
            _("Cancellations by churn group per month"),
            [month.strftime("%b %Y") for month in mix["churn_group"]["months"]],
            [
                Series(row[0], row[1:])
                for row in data["tables"]["cancellations_by_churn_group_per_month"].rows
            ],
            percent=False,
        ),
    }
