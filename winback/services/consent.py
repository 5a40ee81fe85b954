"""Consent: a customer who unsubscribes is never contacted again."""

from django.db import transaction
from django.utils import timezone

from subscriptions import services as subscription_services
from subscriptions.enums import ConsentSource
from subscriptions.models import Customer
from winback import links
from winback.enums import (
    OutreachStatus,
    SkipReason,
)
from winback.models import Outreach, Suppression
from winback.webhooks import unsubscribed_publish


@transaction.atomic
def customer_unsubscribe(*, customer: Customer, source: str = "unsubscribe_link") -> bool:
    """Never contact this customer again: a suppression entry, consent withdrawn, and every
    planned contact skipped. Returns False if they had already unsubscribed.
    Side effects: a customer.unsubscribed webhook the first time.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    _, created = Suppression.objects.get_or_create(
        customer=customer,
        defaults={"email_hash": links.email_hash(customer.email), "source": source},
    )
    if customer.marketing_consent:
        subscription_services.customer_set_consent_fields(
            customer, consent=False, source=ConsentSource.UNSUBSCRIBE
        )
        customer.save(
            update_fields=["marketing_consent", "marketing_consent_at", "marketing_consent_source"]
        )
    Outreach.objects.filter(customer=customer, status=OutreachStatus.SCHEDULED).update(
        status=OutreachStatus.SKIPPED, skip_reason=SkipReason.UNSUBSCRIBED
    )
    if created:
        unsubscribed_publish(customer=customer, source=source, at=timezone.now())
    return created
