"""Erasure removes the person and keeps the facts: nothing personal survives anywhere (the
history tables and the admin's log included), the dashboard does not move, and the person
is never contacted again."""

import json
from datetime import date, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cancellations.models import CancellationCase
from core.enums import EmailStatus
from core.models import OutboundEmail, WebhookDelivery
from desk.models import CallbackRequest
from privacy import selectors, services
from privacy.models import DataRightsLog
from retention.selectors import ROLLUPS, SCAN, Filters, dashboard
from retention.services import rollups_refresh
from subscriptions import services as subscription_services
from subscriptions.actors import Actor
from subscriptions.models import Customer
from tests.factories import make_endpoint
from tests.privacy.conftest import EMAIL, PERSONAL, PHONE
from tests.winback.conftest import make_lost
from winback import links
from winback import services as winback_services
from winback.enums import OutreachStatus
from winback.models import LostCustomer, Outreach, Suppression

pytestmark = pytest.mark.django_db


def everything_stored() -> str:
    """Every row of every table that may hold a customer's words, as one lowercase text."""
    rows = [
        *Customer.objects.values(),
        *CancellationCase.objects.values(),
        *CancellationCase.history.values(),
        *CallbackRequest.objects.values(),
        *CallbackRequest.history.values(),
        *LostCustomer.objects.values(),
        *Outreach.objects.values(),
        *OutboundEmail.objects.values(),
        *LogEntry.objects.values(),
        *WebhookDelivery.objects.values(),
    ]
    return json.dumps(rows, default=str).lower()


def erase(customer, user):
    return services.customer_erase(customer=customer, actor=Actor.staff(user))


def test_erasure_clears_personal_data_everywhere(history, manager):
    assert all(text.lower() in everything_stored() for text in PERSONAL)
    LogEntry.objects.log_actions(
        user_id=manager.pk,
        queryset=[history.customer, history.callback],
        action_flag=CHANGE,
        change_message="Edited",
    )

    erasure = erase(history.customer, manager)

    stored = everything_stored()
    assert [text for text in PERSONAL if text.lower() in stored] == []
    customer = erasure.customer
    assert (customer.name, customer.email, customer.phone, customer.marketing_consent) == (
        "Erased customer",
        "",
        "",
        False,
    )
    assert customer.erased_at == erasure.erased_at and not erasure.already_erased
    assert customer.external_id == history.customer.external_id
    # The facts stay: cases with outcomes and reasons, the competitor, the comeback.
    cancelled = CancellationCase.objects.get(pk=history.cancelled.pk)
    assert (cancelled.outcome, cancelled.reason.code, cancelled.competitor) == (
        "cancelled",
        "expectations",
        "Telia",
    )
    assert CancellationCase.history.filter(id=cancelled.pk).exists()
    assert history.customer.comebacks.get().value == history.comeback.value
    assert (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer),
            object_id=str(customer.pk),
        ).values_list("object_repr", flat=True)[0]
        == "(erased customer)"
    )
    # Bo keeps his words.
    assert "bo's own words" in stored and "bo ek" in stored
    assert erasure.cleared["cases"] == 3 and erasure.cleared["case_history"] > 0


def test_erasure_keeps_the_dashboard_figures(history, manager):
    filters = Filters(start=date.today() - timedelta(days=30), end=date.today())
    now = timezone.now()

    def figures():
        rollups_refresh()
        return {source: dashboard(filters, now=now, source=source) for source in (ROLLUPS, SCAN)}

    before = figures()

    erase(history.customer, manager)

    after = figures()
    assert before[ROLLUPS]["cases"]["saved"] == 1 and before[ROLLUPS]["winback"].comebacks == 1
    assert before[ROLLUPS] == before[SCAN]
    assert after == before


def test_erased_person_is_never_contacted_again(history, manager, campaigns):
    scheduled = Outreach.objects.create(
        lost_customer=history.lost,
        campaign=history.outreach.campaign,
        customer=history.customer,
        attempt=2,
        channel="email",
        due_at=timezone.now(),
    )

    erase(history.customer, manager)

    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.skip_reason) == (OutreachStatus.SKIPPED, "erased")
    suppression = Suppression.objects.get(customer=history.customer)
    assert (suppression.source, suppression.email_hash) == ("erasure", links.email_hash(EMAIL))
    # The same person comes back into Tack as a new customer record, and leaves again:
    # the hash of their address stops every contact.
    again = make_lost(reason="expectations", email=EMAIL.upper(), phone=PHONE)
    winback_services.outreach_plan()
    outreach = Outreach.objects.get(lost_customer=again)
    result = winback_services.outreach_send(outreach_id=outreach.pk)
    assert (result.status, result.detail) == ("skipped", "unsubscribed")


def test_erasure_fails_emails_not_yet_sent(history, manager):
    pending = OutboundEmail.objects.filter(kind="cancellation_saved").get()
    OutboundEmail.objects.filter(pk=pending.pk).update(status=EmailStatus.PENDING)

    erase(history.customer, manager)

    pending.refresh_from_db()
    assert (pending.status, pending.to_email, pending.body_text) == ("failed", "", "")
    assert "erased" in pending.last_error


def test_erasing_twice_changes_nothing_more_and_both_are_audited(history, manager):
    first = erase(history.customer, manager)
    second = services.customer_erase(customer=history.customer, actor=Actor.api("api:crm"))

    assert second.already_erased and second.erased_at == first.erased_at
    log = list(DataRightsLog.objects.order_by("at", "pk").values_list("action", "actor_label"))
    assert log == [("erasure", "manager"), ("erasure", "api:crm")]
    assert DataRightsLog.objects.filter(actor=manager).get().detail["cases"] == 3


def test_an_erased_customer_is_not_taken_in_again(history, manager, api):
    erase(history.customer, manager)

    with pytest.raises(subscription_services.CustomerErased):
        subscription_services.customer_upsert(
            external_id=history.customer.external_id,
            data={"name": "Astrid Lindqvist"},
            actor=Actor.api("billing"),
        )
    response = api.put(
        f"/api/v1/customers/{history.customer.external_id}/",
        {"name": "Astrid Lindqvist", "customer_since": "2019-03-14"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "customer_erased"


def test_erasure_tells_the_company_by_webhook_without_personal_data(history, manager):
    make_endpoint(url="http://127.0.0.1:9/unused", event_types=["customer.erased"])

    erase(history.customer, manager)

    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["data"] == {"customer": {"external_id": history.customer.external_id}}


def test_export_after_erasure_shows_the_facts_only(history, manager):
    erase(history.customer, manager)

    document = json.dumps(selectors.customer_export(customer=history.customer)).lower()

    assert [text for text in PERSONAL if text.lower() in document] == []
    assert '"outcome": "cancelled"' in document and "telia" in document
