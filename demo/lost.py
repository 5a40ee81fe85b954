"""Lost customers for the demo, recorded as ``winback.segmentation.lost_customers_record``
records them: one per cancelled subscription, with what its last cancelled case said. The
seed writes them with the book; the real services then segment and score them."""

from core.dates import whole_months_between
from demo.dates import local_date

LOST_COLUMNS = (
    "id",
    "subscription_id",
    "customer_id",
    "plan_id",
    "case_id",
    "left_at",
    "monthly_value",
    "currency",
    "tenure_months",
    "contract_months",
    "cancelled_by",
    "reason_id",
    "reason_category",
    "reason_group",
    "reason_text",
    "competitor",
    "agent_churn_group",
    "churn_group",
    "churn_group_source",
    "past_saves",
    "attractiveness",
    "scored_at",
    "came_back_at",
    "created_at",
)


def lost_customer_row(lost_id: int, life, reason_ids: dict[str, int]) -> tuple:
    """The record of a cancelled subscription (``life``), made by the refresh soon after."""
    case = life.exit_case
    left = life.cancelled_at
    return (
        lost_id,
        life.id,
        life.customer_id,
        life.plan.id,
        case.id if case else None,
        left,
        life.amount,
        "SEK",
        whole_months_between(life.since, local_date(left)),
        life.plan.months,
        life.cancelled_by,
        reason_ids[case.reason] if case and case.reason else None,
        "",
        "",
        case.reason_text if case else "",
        case.competitor if case else "",
        case.churn_group if case else "",
        "self_switcher",
        "fallback",
        life.saves,
        0,
        None,
        None,
        left,
    )
