"""What the company's systems hear about win-back (outbound webhooks)."""

from core.enums import WebhookEventType
from core.webhooks import webhook_publish
from subscriptions.models import Customer
from subscriptions.webhooks import (
    customer_ref,
    customer_scope,
    money,
    subscription_ref,
    subscription_scope,
)
from winback.models import Comeback


def comeback_publish(*, comeback: Comeback, customer: Customer) -> None:
    subscription = comeback.subscription
    campaign = comeback.campaign
    webhook_publish(
        event_type=WebhookEventType.WINBACK_COMEBACK,
        scope=subscription_scope(subscription.pk),
        occurred_at=comeback.at,
        data={
            "customer": customer_ref(customer),
            "subscription": subscription_ref(subscription),
            "comeback": {
                "id": comeback.pk,
                "channel": comeback.channel,
                "organic": comeback.organic,
                "campaign": None
                if campaign is None
                else {"id": campaign.pk, "name": campaign.name},
                "monthly_amount": money(comeback.monthly_amount),
                "offer_cost": money(comeback.offer_cost),
                "first_year_value": money(comeback.value),
                "currency": comeback.currency,
            },
        },
    )


def unsubscribed_publish(*, customer: Customer, source: str, at) -> None:
    webhook_publish(
        event_type=WebhookEventType.CUSTOMER_UNSUBSCRIBED,
        scope=customer_scope(customer.pk),
        occurred_at=at,
        data={"customer": customer_ref(customer), "source": source},
    )
