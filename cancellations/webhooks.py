"""What the company's systems hear about cancellation cases (outbound webhooks)."""

from typing import Any

from cancellations.models import CancellationCase
from core.webhooks import webhook_publish
from subscriptions.webhooks import customer_ref, money, subscription_ref, subscription_scope


def case_data(case: CancellationCase) -> dict[str, Any]:
    offer = case.accepted_offer
    return {
        "customer": customer_ref(case.customer),
        "subscription": subscription_ref(case.subscription),
        "cancellation": {
            "id": case.pk,
            "channel": case.channel,
            "outcome": case.outcome,
            "reason": case.reason.code if case.reason else None,
            "churn_group": case.churn_group or None,
            "opened_at": case.opened_at,
            "decided_at": case.decided_at,
            "cancel_effective_at": case.cancel_effective_at,
            "accepted_offer": None
            if offer is None
            else {
                "kind": offer.kind,
                "cost": money(
                    offer.accepted_cost if offer.accepted_cost is not None else offer.cost
                ),
                "currency": case.currency,
            },
        },
    }


def case_event_publish(
    *, case: CancellationCase, event_type: str, endpoint_ids: list[int] | None = None
) -> None:
    """Report a step of the case in the transaction that took it."""
    webhook_publish(
        event_type=event_type,
        scope=subscription_scope(case.subscription_id),
        occurred_at=case.decided_at or case.opened_at,
        data=case_data(case),
        endpoint_ids=endpoint_ids,
    )
