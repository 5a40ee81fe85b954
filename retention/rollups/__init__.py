"""The dashboard's daily rollups: what each holds (``definitions``), how a day is recounted
(``counting``, the writes) and how they are read back into exactly the answers of the raw
scan, ``retention.scan`` (``reading``: the same functions, so this package is a *source* for
``retention.selectors`` like the scan).

A rollup row is one combination of dimension values on one local day (and, for the larger
ones, on one month: the sum of its days). Recounting a set of days deletes their rows and
inserts them again from the raw rows with one ``INSERT … SELECT`` per rollup, built from the
same expressions the scan uses; the months those days fall in are then summed again from
their days. What to recount comes from the change marks (``core.changes``): a marked case
touches the days it was opened, decided and shown offers on; a subscription that asked to
leave touches the days its saves were decided; a subscription that ended or came back
touches the days of its comebacks; a lost customer touches the days of its contacts, holdout
plans and comeback.
"""

from retention.rollups.counting import recount, touched_days
from retention.rollups.definitions import CASES, COMEBACKS, FAMILIES, OUTREACH, ROLLUPS, Rollup
from retention.rollups.reading import (
    case_breakdown_rows,
    case_totals,
    funnel,
    offer_rows,
    trend_rows,
    winback_breakdown_rows,
    winback_totals,
)

__all__ = [
    "CASES",
    "COMEBACKS",
    "FAMILIES",
    "OUTREACH",
    "ROLLUPS",
    "Rollup",
    "case_breakdown_rows",
    "case_totals",
    "funnel",
    "offer_rows",
    "recount",
    "touched_days",
    "trend_rows",
    "winback_breakdown_rows",
    "winback_totals",
]
