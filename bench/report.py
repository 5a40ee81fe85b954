"""The pure parts of `make bench`: the results table, percentiles and the duplicate count."""

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    what: str
    target: str
    measured: str
    met: bool | None  # None: a figure without a target


def verdict(met: bool | None) -> str:
    return "—" if met is None else "yes" if met else "**no**"


def markdown_table(rows: Iterable[Row]) -> str:
    lines = ["| what | target | measured | met? |", "| --- | --- | --- | --- |"]
    for row in rows:
        cells = (row.what, row.target, row.measured, verdict(row.met))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share 0..1) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Deliveries:
    expected: int  # distinct messages that should have arrived once each
    received: int  # of those, how many arrived at least once
    duplicates: int  # extra copies of them
    missing: int


def count_deliveries(received_ids: Iterable[str], expected_ids: set[str]) -> Deliveries:
    """Compare the Message-IDs the SMTP server received with the ones that should arrive.

    Messages that are not expected (other emails the workers sent meanwhile) are ignored.
    """
    counts = Counter(mid for mid in received_ids if mid in expected_ids)
    return Deliveries(
        expected=len(expected_ids),
        received=len(counts),
        duplicates=sum(n - 1 for n in counts.values()),
        missing=len(expected_ids) - len(counts),
    )
