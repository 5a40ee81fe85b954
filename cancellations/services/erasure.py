"""Data rights on the cancellation flow's rows: the customer's words go, the facts stay."""

from cancellations.models import CancellationCase


def case_texts_erase(*, cases) -> dict[str, int]:
    """Clear the free text of these cases (reasons in the customer's words, interview notes)
    and of their history; outcomes, offers, amounts and competitors stay."""
    history = CancellationCase.history.filter(id__in=cases.values("pk"))
    return {
        "cases": cases.exclude(reason_text="", notes="").update(reason_text="", notes=""),
        "case_history": history.exclude(reason_text="", notes="").update(reason_text="", notes=""),
    }
