"""Data rights: export, erasure and the retention limit on free text, each audited.

This app sits above ``winback`` (core ← subscriptions ← desk ← cancellations ← winback ←
privacy): export reads every app's rows; erasure asks each app to clear its own (each owns
the writes to its tables: ``core.erasure``, ``subscriptions.services.customer_identity_erase``,
``desk.services.callback_texts_erase``, ``cancellations.services.erasure``,
``winback.erasure``), and audits what was done.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from cancellations.models import CancellationCase
from cancellations.services.erasure import case_texts_erase
from core.enums import WebhookEventType
from core.erasure import api_answers_forget, customer_emails_erase
from core.webhooks import webhook_publish
from desk.models import CallbackRequest
from desk.services import callback_texts_erase
from privacy import selectors
from privacy.enums import DataRightsAction
from privacy.models import DataRightsLog
from subscriptions.actors import Actor
from subscriptions.models import Customer, Subscription
from subscriptions.services import customer_identity_erase
from subscriptions.webhooks import customer_ref, customer_scope
from winback.erasure import (
    customer_suppress_for_erasure,
    customer_winback_erase,
    winback_texts_clear_expired,
)
from winback.models import LostCustomer

ERASED_NAME = "Erased customer"


def _audit(
    *, action: str, customer: Customer, actor: Actor, now: datetime, detail: dict | None = None
) -> DataRightsLog:
    user = actor.user if getattr(actor.user, "pk", None) else None
    return DataRightsLog.objects.create(
        action=action,
        customer=customer,
        customer_external_id=customer.external_id,
        actor=user,
        actor_label=actor.label[:120],
        channel=actor.channel,
        at=now,
        detail=detail or {},
    )


@transaction.atomic
def customer_data_export(*, customer: Customer, actor: Actor) -> dict[str, Any]:
    """The customer's data as one JSON document. Side effects: an EXPORT audit row."""
    now = timezone.now()
    _audit(action=DataRightsAction.EXPORT, customer=customer, actor=actor, now=now)
    return selectors.customer_export(customer=customer)


@dataclass(frozen=True)
class Erasure:
    customer: Customer
    erased_at: datetime
    already_erased: bool
    cleared: dict[str, int]


def _forget_admin_log(customer: Customer) -> int:
    """The admin's log names objects by their __str__, which shows the customer's name."""
    owned = {
        Customer: [customer.pk],
        Subscription: Subscription.objects.filter(customer=customer).values_list("pk", flat=True),
        CallbackRequest: CallbackRequest.objects.filter(customer=customer).values_list(
            "pk", flat=True
        ),
        LostCustomer: LostCustomer.objects.filter(customer=customer).values_list("pk", flat=True),
    }
    forgotten = 0
    for model, ids in owned.items():
        forgotten += LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr=f"({ERASED_NAME.lower()})")
    return forgotten


@transaction.atomic
def customer_erase(*, customer: Customer, actor: Actor) -> Erasure:
    """Remove the customer's personal data, keep the facts the figures are made of.

    Name, email and phone go, and so does every free text about them: exit reasons in their
    words, interview notes, call hints and outcomes, the bodies and addresses of their
    emails, and the copies of all these in the history tables and the admin's log. Cases,
    outcomes, offers, amounts, dates, churn groups and competitors stay, so the dashboard's
    figures do not change. A suppression entry keeps a SHA-256 of the address, so the person
    is never contacted again, even if their address comes back in a new customer. Erasing
    twice changes nothing more.
    Side effects: an ERASURE audit row; planned contacts skipped; unsent emails failed;
    a customer.erased webhook.
    """
    now = timezone.now()
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.erased_at is not None:
        _audit(
            action=DataRightsAction.ERASURE,
            customer=customer,
            actor=actor,
            now=now,
            detail={"already_erased": True},
        )
        return Erasure(customer, customer.erased_at, True, {})

    customer_suppress_for_erasure(customer=customer, now=now)
    cases = CancellationCase.objects.filter(customer=customer)
    case_ids = list(cases.values_list("pk", flat=True))
    cleared = {
        **case_texts_erase(cases=cases),
        **callback_texts_erase(callbacks=CallbackRequest.objects.filter(customer=customer)),
        **customer_winback_erase(customer=customer),
        **customer_emails_erase(customer=customer, address=customer.email.strip()),
        "api_answers": api_answers_forget(object_ids=case_ids),
        "admin_log": _forget_admin_log(customer),
    }
    customer_identity_erase(customer=customer, name=ERASED_NAME, now=now)
    customer.refresh_from_db()
    webhook_publish(
        event_type=WebhookEventType.CUSTOMER_ERASED,
        scope=customer_scope(customer.pk),
        occurred_at=now,
        data={"customer": customer_ref(customer)},
    )
    _audit(action=DataRightsAction.ERASURE, customer=customer, actor=actor, now=now, detail=cleared)
    return Erasure(customer, now, False, cleared)


def free_text_clear_expired(*, now: datetime | None = None) -> dict[str, int]:
    """Clear customers' free text older than TACK_FREE_TEXT_RETENTION_DAYS (set-based).

    What goes: exit reasons in the customer's words and interview notes of cases opened
    before the cutoff (and their history and lost-customer copies), the hints and outcome
    notes of callbacks created before it, and win-back call notes. Everything else stays.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TACK_FREE_TEXT_RETENTION_DAYS)
    with transaction.atomic():
        old_cases = CancellationCase.objects.filter(opened_at__lt=cutoff)
        return {
            **case_texts_erase(cases=old_cases),
            **callback_texts_erase(callbacks=CallbackRequest.objects.filter(created_at__lt=cutoff)),
            **winback_texts_clear_expired(cutoff=cutoff, old_cases=old_cases),
        }
