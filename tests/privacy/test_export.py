"""The export holds everything Tack has about one customer, and nothing about anyone else."""

import json

import pytest

from privacy import selectors, services
from privacy.models import DataRightsLog
from subscriptions.actors import Actor
from tests.factories import make_customer, make_endpoint
from tests.privacy.conftest import EMAIL, FOLLOW_UP_NOTES, INTERVIEW_NOTES, NAME, OWN_WORDS, PHONE
from winback import services as winback_services

pytestmark = pytest.mark.django_db


def test_export_contains_everything_tack_holds_about_the_customer(history):
    document = selectors.customer_export(customer=history.customer)

    assert set(document) == {
        "format",
        "version",
        "exported_at",
        "customer",
        "subscriptions",
        "cancellation_cases",
        "callbacks",
        "lost_customer_records",
        "outreach",
        "comebacks",
        "emails",
        "suppression",
        "webhook_events",
        "data_rights_log",
    }
    assert (document["format"], document["version"]) == ("tack.customer-export", 1)
    customer = document["customer"]
    assert (customer["name"], customer["email"], customer["phone"]) == (NAME, EMAIL, PHONE)
    assert customer["external_id"] == history.customer.external_id
    assert customer["erased_at"] is None
    assert [s["status"] for s in document["subscriptions"]] == ["active", "active", "active"]
    assert [e["kind"] for e in document["subscriptions"][0]["ledger"]] == [
        "started",
        "credit_granted",
    ]
    assert [e["kind"] for e in document["subscriptions"][2]["ledger"]] == [
        "started",
        "cancelled",
        "reactivated",
        "credit_granted",  # the campaign's come-back offer: a free month
    ]
    cases = {case["id"]: case for case in document["cancellation_cases"]}
    assert set(cases) == {history.saved.pk, history.follow_up.pk, history.cancelled.pk}
    saved = cases[history.saved.pk]
    assert (saved["outcome"], saved["reason"], saved["reason_text"]) == (
        "saved",
        "price",
        OWN_WORDS,
    )
    assert [offer["kind"] for offer in saved["offers"] if offer["accepted_at"]] == ["loyalty_bonus"]
    assert [step["kind"] for step in saved["steps"]][:2] == ["opened", "reason_chosen"]
    assert saved["history"] and saved["history"][0]["history_type"] == "+"
    cancelled = cases[history.cancelled.pk]
    assert (cancelled["notes"], cancelled["competitor"]) == (INTERVIEW_NOTES, "Telia")
    [callback] = document["callbacks"]
    assert callback["hints"] == FOLLOW_UP_NOTES and callback["history"]
    [lost] = document["lost_customer_records"]
    assert (lost["churn_group"], lost["case"]) == ("unintentionally_pushed", history.cancelled.pk)
    [outreach] = document["outreach"]
    assert (outreach["campaign"], outreach["status"]) == (
        "Unintentionally pushed away: what we have improved",
        "sent",
    )
    [comeback] = document["comebacks"]
    assert (comeback["outreach"], comeback["value"]) == (history.outreach.pk, "2189.00")
    kinds = sorted(email["kind"] for email in document["emails"])
    assert kinds == ["cancellation_cancelled", "cancellation_saved", "winback"]
    assert all(email["to_email"] == EMAIL for email in document["emails"])
    assert document["suppression"] is None
    assert "Bo Ek" not in json.dumps(document) and "Bo's own words" not in json.dumps(document)


def test_every_export_is_audited(history, manager):
    services.customer_data_export(customer=history.customer, actor=Actor.staff(manager))

    entry = DataRightsLog.objects.get()
    assert (entry.action, entry.customer, entry.actor, entry.actor_label, entry.channel) == (
        "export",
        history.customer,
        manager,
        "manager",
        "admin",
    )
    document = selectors.customer_export(customer=history.customer)
    assert [row["action"] for row in document["data_rights_log"]] == ["export"]


def test_export_lists_the_events_sent_about_the_customer(db):
    customer = make_customer()
    make_endpoint(url="http://127.0.0.1:9/unused")
    make_endpoint(url="http://127.0.0.1:9/also-unused")
    winback_services.customer_unsubscribe(customer=customer)

    document = selectors.customer_export(customer=customer)

    [event] = document["webhook_events"]
    assert event["event_type"] == "customer.unsubscribed"
    assert document["suppression"]["source"] == "unsubscribe_link"
