"""Data rights: export, erasure and the retention limit on free text, each audited.

This app sits above ``winback`` (core ← subscriptions ← cancellations ← winback ← privacy):
export and erasure must reach every app's rows, and none of those apps needs to know
about data rights.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cancellations.models import CallbackRequest, CancellationCase
from core.enums import EmailStatus, WebhookEventType
from core.models import IdempotencyRecord, OutboundEmail
from core.webhooks import webhook_publish
from privacy import selectors
from privacy.enums import DataRightsAction
from privacy.models import DataRightsLog
from subscriptions.actors import Actor
from subscriptions.models import Customer, Subscription
from subscriptions.webhooks import customer_ref, customer_scope
from winback.enums import OutreachStatus, SkipReason
from winback.links import email_hash
from winback.models import LostCustomer, Outreach, Suppression

ERASED_NAME = "Erased customer"
NOT_SENT = "Not sent: the customer's personal data was erased."


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


def _clear_case_texts(cases) -> dict[str, int]:
    history = CancellationCase.history.filter(id__in=cases.values("pk"))
    return {
        "cases": cases.exclude(reason_text="", notes="").update(reason_text="", notes=""),
        "case_history": history.exclude(reason_text="", notes="").update(reason_text="", notes=""),
    }


def _clear_callback_texts(callbacks) -> dict[str, int]:
    history = CallbackRequest.history.filter(id__in=callbacks.values("pk"))
    return {
        "callbacks": callbacks.exclude(hints="", outcome_note="").update(hints="", outcome_note=""),
        "callback_history": history.exclude(hints="", outcome_note="").update(
            hints="", outcome_note=""
        ),
    }


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

    address = customer.email.strip()
    hashed = email_hash(address)
    suppression, created = Suppression.objects.get_or_create(
        customer=customer, defaults={"email_hash": hashed, "source": "erasure", "created_at": now}
    )
    if not created and hashed and not suppression.email_hash:
        Suppression.objects.filter(pk=suppression.pk).update(email_hash=hashed)

    cases = CancellationCase.objects.filter(customer=customer)
    unowned_to_them = Q(customer__isnull=True, to_email__iexact=address) if address else Q()
    emails = OutboundEmail.objects.filter(
        pk__in=list(
            OutboundEmail.objects.filter(Q(customer=customer) | unowned_to_them).values_list(
                "pk", flat=True
            )
        )
    )
    case_ids = list(cases.values_list("pk", flat=True))
    cleared = {
        **_clear_case_texts(cases),
        **_clear_callback_texts(CallbackRequest.objects.filter(customer=customer)),
        "lost_customer_records": LostCustomer.objects.filter(customer=customer)
        .exclude(reason_text="")
        .update(reason_text=""),
        "outreach_skipped": Outreach.objects.filter(
            customer=customer, status=OutreachStatus.SCHEDULED
        ).update(status=OutreachStatus.SKIPPED, skip_reason=SkipReason.ERASED),
        "outreach_notes": Outreach.objects.filter(customer=customer)
        .exclude(call_outcome="", error="")
        .update(call_outcome="", error=""),
        "emails": emails.update(
            to_email="", subject="", body_text="", body_html="", headers={}, last_error=""
        ),
        "emails_not_sent": emails.filter(
            status__in=[EmailStatus.PENDING, EmailStatus.SENDING]
        ).update(status=EmailStatus.FAILED, last_error=NOT_SENT),
        # Stored API answers about their cases (kept for 48 hours) may quote their words.
        "api_answers": IdempotencyRecord.objects.filter(response_body__id__in=case_ids).delete()[0]
        if case_ids
        else 0,
        "admin_log": _forget_admin_log(customer),
    }
    Customer.objects.filter(pk=customer.pk).update(
        name=ERASED_NAME,
        email="",
        phone="",
        marketing_consent=False,
        marketing_consent_at=None,
        marketing_consent_source="",
        erased_at=now,
        updated_at=now,
    )
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
            **_clear_case_texts(old_cases),
            "lost_customer_records": LostCustomer.objects.filter(
                Q(case__in=old_cases.values("pk")) | Q(left_at__lt=cutoff)
            )
            .exclude(reason_text="")
            .update(reason_text=""),
            **_clear_callback_texts(CallbackRequest.objects.filter(created_at__lt=cutoff)),
            "outreach_notes": Outreach.objects.filter(created_at__lt=cutoff)
            .exclude(call_outcome="")
            .update(call_outcome=""),
        }
