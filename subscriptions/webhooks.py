"""What the company's systems hear about customers and subscriptions (outbound webhooks).

Payloads name objects by their external ids and carry no personal data, so an erasure
never has to chase them.
"""

from decimal import Decimal
from typing import Any

from core.enums import WebhookEventType
from core.webhooks import webhook_publish
from subscriptions.enums import EventKind
from subscriptions.models import Customer, Subscription, SubscriptionEvent

# Ledger kinds the company's billing must hear of. STARTED and UPDATED are not sent: they
# are how the company's own systems push subscriptions in.
LEDGER_EVENTS = {
    EventKind.PAUSED: WebhookEventType.SUBSCRIPTION_PAUSED,
    EventKind.RESUMED: WebhookEventType.SUBSCRIPTION_RESUMED,
    EventKind.PLAN_CHANGED: WebhookEventType.SUBSCRIPTION_PLAN_CHANGED,
    EventKind.CREDIT_GRANTED: WebhookEventType.SUBSCRIPTION_CREDIT_GRANTED,
    EventKind.DISCOUNT_GRANTED: WebhookEventType.SUBSCRIPTION_DISCOUNT_GRANTED,
    EventKind.CANCEL_REQUESTED: WebhookEventType.SUBSCRIPTION_CANCEL_SCHEDULED,
    EventKind.CANCEL_WITHDRAWN: WebhookEventType.SUBSCRIPTION_CANCEL_WITHDRAWN,
    EventKind.CANCELLED: WebhookEventType.SUBSCRIPTION_CANCELLED,
    EventKind.REACTIVATED: WebhookEventType.SUBSCRIPTION_REACTIVATED,
}


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(Decimal(amount).quantize(Decimal("0.01")))


def subscription_scope(subscription_id: int) -> str:
    """Events about one subscription share a sequence, whichever app emits them."""
    return f"subscription:{subscription_id}"


def customer_scope(customer_id: int) -> str:
    return f"customer:{customer_id}"


def customer_ref(customer: Customer) -> dict[str, Any]:
    return {"external_id": customer.external_id}


def subscription_ref(subscription: Subscription) -> dict[str, Any]:
    return {
        "external_id": subscription.external_id,
        "status": subscription.status,
        "plan": subscription.plan.code,
        "monthly_amount": money(subscription.monthly_amount),
        "currency": subscription.currency,
    }


def ledger_event_publish(*, event: SubscriptionEvent, subscription: Subscription) -> None:
    """Report a ledger row to the endpoints that want its kind (in the ledger's transaction)."""
    event_type = LEDGER_EVENTS.get(event.kind)
    if event_type is None:
        return
    webhook_publish(
        event_type=event_type,
        scope=subscription_scope(subscription.pk),
        occurred_at=event.created_at,
        data={
            "customer": customer_ref(subscription.customer),
            "subscription": {"external_id": subscription.external_id, **event.after},
            "previous": event.before,
            "change": {
                "ledger_sequence": event.sequence,
                "kind": event.kind,
                "channel": event.channel,
                "amount": money(event.amount),
                "currency": event.currency or None,
            },
        },
    )
