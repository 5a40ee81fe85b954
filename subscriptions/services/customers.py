"""Customers: created and updated by the company's systems, and their marketing consent."""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subscriptions.actors import Actor
from subscriptions.enums import Channel, ConsentSource
from subscriptions.errors import CustomerErased
from subscriptions.models import Customer

CUSTOMER_FIELDS = ("name", "email", "phone", "locale", "country", "customer_since")
CONSENT_SOURCE_BY_CHANNEL = {
    Channel.WEB: ConsentSource.WEB,
    Channel.PHONE: ConsentSource.PHONE,
    Channel.API: ConsentSource.API,
    Channel.IMPORT: ConsentSource.IMPORT,
}


@transaction.atomic
def customer_upsert(
    *, external_id: str, data: dict[str, Any], actor: Actor
) -> tuple[Customer, bool, bool]:
    """Create or update a customer by external id. Returns (customer, created, changed).

    ``data`` holds any of CUSTOMER_FIELDS plus ``marketing_consent``. Sending the same data
    twice changes nothing the second time. An erased customer is refused (CustomerErased).
    """
    customer = Customer.objects.select_for_update().filter(external_id=external_id).first()
    if customer is not None and customer.erased_at is not None:
        raise CustomerErased(
            _("This customer's personal data has been erased, so it cannot be sent in again.")
        )
    created = customer is None
    if created:
        customer = Customer(external_id=external_id)
    changed = created
    for field in CUSTOMER_FIELDS:
        if field in data and getattr(customer, field) != data[field]:
            setattr(customer, field, data[field])
            changed = True
    if "marketing_consent" in data and (
        created or customer.marketing_consent != data["marketing_consent"]
    ):
        customer_set_consent_fields(
            customer,
            consent=data["marketing_consent"],
            source=CONSENT_SOURCE_BY_CHANNEL.get(actor.channel, ConsentSource.API),
        )
        changed = True
    if changed:
        customer.full_clean(exclude=["external_id"] if not created else None)
        customer.save()
    return customer, created, changed


def customer_set_consent_fields(customer: Customer, *, consent: bool, source: str) -> None:
    customer.marketing_consent = consent
    customer.marketing_consent_at = timezone.now()
    customer.marketing_consent_source = source


def customer_identity_erase(*, customer: Customer, name: str, now: datetime) -> None:
    """Name, email, phone and marketing consent go; the customer row and its facts stay."""
    Customer.objects.filter(pk=customer.pk).update(
        name=name,
        email="",
        phone="",
        marketing_consent=False,
        marketing_consent_at=None,
        marketing_consent_source="",
        erased_at=now,
        updated_at=now,
    )


@transaction.atomic
def customer_create_many(*, rows: list[dict]) -> list[Customer]:
    """Create many new customers at once (a first import): validated one by one as
    ``customer_upsert`` does, written in one batch. ``rows`` hold ``external_id`` and any of
    CUSTOMER_FIELDS; no consent is given."""
    customers = []
    for row in rows:
        fields = {k: v for k, v in row.items() if k in (*CUSTOMER_FIELDS, "external_id")}
        customer = Customer(**fields)
        customer.full_clean(exclude=["external_id"], validate_unique=False)
        customers.append(customer)
    return Customer.objects.bulk_create(customers)
