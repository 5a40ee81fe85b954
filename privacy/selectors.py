"""Reads for data rights: everything Tack holds about one customer, as one JSON document."""

import json
from collections import defaultdict
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.utils import timezone

from cancellations.models import CancellationCase, CaseStep, Offer
from core.models import OutboundEmail, WebhookDelivery
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from privacy.models import DataRightsLog
from subscriptions.models import Customer, Subscription, SubscriptionEvent
from winback.models import Comeback, LostCustomer, Outreach, Suppression

EXPORT_FORMAT = "tack.customer-export"
EXPORT_VERSION = 1

CUSTOMER_FIELDS = [
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "country",
    "customer_since",
    "marketing_consent",
    "marketing_consent_at",
    "marketing_consent_source",
    "created_at",
    "updated_at",
    "erased_at",
]


def _rows(queryset: QuerySet, **renamed: str) -> list[dict[str, Any]]:
    """``values()`` rows, with lookups such as ``plan__code`` exported as ``plan``."""
    return [{renamed.get(key, key): value for key, value in row.items()} for row in queryset]


def _grouped(queryset: QuerySet, key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in queryset:
        groups[row.pop(key)].append(row)
    return groups


def _subscriptions(customer: Customer) -> list[dict[str, Any]]:
    ledger = _grouped(
        SubscriptionEvent.objects.filter(subscription__customer=customer)
        .order_by("subscription_id", "sequence")
        .values(
            "subscription_id",
            "sequence",
            "kind",
            "channel",
            "actor_label",
            "before",
            "after",
            "amount",
            "currency",
            "note",
            "created_at",
        ),
        "subscription_id",
    )
    subscriptions = _rows(
        Subscription.objects.filter(customer=customer)
        .order_by("pk")
        .values(
            "id",
            "external_id",
            "plan__code",
            "status",
            "started_at",
            "current_period_end",
            "paused_until",
            "cancel_at",
            "cancelled_at",
            "cancelled_by",
            "monthly_amount",
            "currency",
            "discount_percent",
            "discount_until",
            "created_at",
            "updated_at",
        ),
        plan__code="plan",
    )
    for subscription in subscriptions:
        subscription["ledger"] = ledger.get(subscription.pop("id"), [])
    return subscriptions


def _cases(customer: Customer) -> list[dict[str, Any]]:
    offers = _grouped(
        Offer.objects.filter(case__customer=customer)
        .order_by("case_id", "withdrawn", "position")
        .values(
            "case_id",
            "kind",
            "position",
            "parameters",
            "cost",
            "presented_at",
            "withdrawn",
            "accepted_at",
            "accepted_cost",
            "options",
        ),
        "case_id",
    )
    steps = _grouped(
        CaseStep.objects.filter(case__customer=customer)
        .order_by("case_id", "at", "pk")
        .values("case_id", "kind", "at", "actor_label", "data"),
        "case_id",
    )
    history = _grouped(
        CancellationCase.history.filter(customer_id=customer.pk)
        .order_by("id", "history_date")
        .values(
            "id",
            "history_date",
            "history_type",
            "outcome",
            "reason_text",
            "competitor",
            "notes",
            "churn_group",
        ),
        "id",
    )
    cases = _rows(
        CancellationCase.objects.filter(customer=customer)
        .order_by("pk")
        .values(
            "id",
            "subscription__external_id",
            "channel",
            "outcome",
            "language",
            "reason__code",
            "reason_text",
            "competitor",
            "churn_group",
            "plan__code",
            "monthly_amount",
            "currency",
            "tenure_months",
            "opened_at",
            "reason_at",
            "offers_shown_at",
            "decided_at",
            "cancel_effective_at",
            "withdrawn_at",
            "notes",
            "call_duration_seconds",
            "follow_up_at",
        ),
        subscription__external_id="subscription",
        reason__code="reason",
        plan__code="plan",
    )
    for case in cases:
        case["offers"] = offers.get(case["id"], [])
        case["steps"] = steps.get(case["id"], [])
        case["history"] = history.get(case["id"], [])
    return cases


def _callbacks(customer: Customer) -> list[dict[str, Any]]:
    history = _grouped(
        CallbackRequest.history.filter(customer_id=customer.pk)
        .order_by("id", "history_date")
        .values("id", "history_date", "history_type", "status", "hints", "outcome_note"),
        "id",
    )
    callbacks = _rows(
        CallbackRequest.objects.filter(customer=customer)
        .order_by("pk")
        .values(
            "id",
            "subscription__external_id",
            "source_ref",
            "source",
            "due_at",
            "window",
            "reason",
            "hints",
            "status",
            "attempts",
            "outcome_note",
            "created_at",
            "closed_at",
        ),
        subscription__external_id="subscription",
    )
    for callback in callbacks:
        # The case the call is about (a win-back call is about an outreach, listed there).
        reference = callback.pop("source_ref")
        callback["case"] = reference if callback["source"] != CallbackSource.WINBACK else None
        callback["history"] = history.get(callback["id"], [])
    return callbacks


def _webhook_events(customer: Customer) -> list[dict[str, Any]]:
    """The events sent about the customer (one per event, whatever the number of endpoints)."""
    events: dict[Any, dict[str, Any]] = {}
    for row in (
        WebhookDelivery.objects.filter(payload__data__customer__external_id=customer.external_id)
        .order_by("created_at", "pk")
        .values("event_id", "event_type", "created_at")
    ):
        events.setdefault(row["event_id"], row)
    return list(events.values())


def customer_export(*, customer: Customer) -> dict[str, Any]:
    """Everything Tack holds about ``customer``: profile, subscriptions with their ledger,
    cancellation cases (offers, steps, interview notes, their history), callbacks, lost
    customer records, outreach, comebacks, emails, suppression, the events sent to the
    company's systems, and the data-rights log. Plain JSON types only.
    """
    customer_email = customer.email.strip()
    emails = OutboundEmail.objects.filter(
        Q(customer=customer) | (Q(to_email__iexact=customer_email) if customer_email else Q())
    )
    document = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": timezone.now(),
        "customer": Customer.objects.filter(pk=customer.pk).values(*CUSTOMER_FIELDS).get(),
        "subscriptions": _subscriptions(customer),
        "cancellation_cases": _cases(customer),
        "callbacks": _callbacks(customer),
        "lost_customer_records": _rows(
            LostCustomer.objects.filter(customer=customer)
            .order_by("pk")
            .values(
                "id",
                "subscription__external_id",
                "case_id",
                "left_at",
                "monthly_value",
                "currency",
                "tenure_months",
                "contract_months",
                "cancelled_by",
                "reason__code",
                "reason_text",
                "competitor",
                "churn_group",
                "churn_group_source",
                "past_saves",
                "attractiveness",
                "came_back_at",
            ),
            subscription__external_id="subscription",
            case_id="case",
            reason__code="reason",
        ),
        "outreach": _rows(
            Outreach.objects.filter(customer=customer)
            .order_by("pk")
            .values(
                "id",
                "lost_customer_id",
                "campaign__name",
                "attempt",
                "channel",
                "due_at",
                "status",
                "contacted_at",
                "sent_at",
                "language",
                "skip_reason",
                "call_outcome",
                "email_id",
            ),
            lost_customer_id="lost_customer",
            campaign__name="campaign",
            email_id="email",
        ),
        "comebacks": _rows(
            Comeback.objects.filter(customer=customer)
            .order_by("pk")
            .values(
                "id",
                "subscription__external_id",
                "at",
                "outreach_id",
                "campaign__name",
                "channel",
                "monthly_amount",
                "offer_cost",
                "value",
                "currency",
            ),
            subscription__external_id="subscription",
            outreach_id="outreach",
            campaign__name="campaign",
        ),
        "emails": list(
            emails.order_by("pk").values(
                "id", "kind", "to_email", "subject", "body_text", "status", "created_at", "sent_at"
            )
        ),
        "suppression": Suppression.objects.filter(customer=customer)
        .values("source", "email_hash", "created_at")
        .first(),
        "webhook_events": _webhook_events(customer),
        "data_rights_log": list(
            DataRightsLog.objects.filter(customer=customer)
            .order_by("at", "pk")
            .values("action", "at", "channel", "actor_label")
        ),
    }
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))
