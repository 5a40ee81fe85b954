"""Links are safe to open (issue 22). Mail security scanners, link rewriting and chat previews
fetch every link before a person does — without cookies, without running JavaScript, with
GET and HEAD. None of that may write anything: no case, step, ledger row, webhook or email
(nor anything else: PostgreSQL's own counters of the rows this transaction inserted, updated
or deleted must not move). The case opens at a person's first click (a POST), once, even
when the click is doubled."""

import threading

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from cancellations import links as cancel_links
from cancellations.models import CancellationCase, CaseStep, ExitReason, Offer
from core.enums import WebhookEventType
from core.links import make_token
from core.models import ChangeMark, OutboundEmail, WebhookDelivery
from desk.models import CallbackRequest
from subscriptions.enums import EventKind, SubscriptionStatus
from subscriptions.models import SubscriptionEvent
from tests.cancellations.conftest import defaults  # noqa: F401 - a fixture
from tests.factories import make_endpoint, make_plan, make_subscription
from winback import links as winback_links
from winback.models import Comeback, Suppression

SCANNER = {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; MailLinkScanner/2.1)"}
FETCHES = 20


def rows() -> dict[str, int]:
    return {
        "cases": CancellationCase.objects.count(),
        "steps": CaseStep.objects.count(),
        "offers": Offer.objects.count(),
        "ledger": SubscriptionEvent.objects.count(),
        "webhooks": WebhookDelivery.objects.count(),
        "emails": OutboundEmail.objects.count(),
        "change marks": ChangeMark.objects.count(),
        "callbacks": CallbackRequest.objects.count(),
        "suppressions": Suppression.objects.count(),
        "comebacks": Comeback.objects.count(),
        "sessions": Session.objects.count(),
    }


def rows_written() -> int:
    """Rows inserted, updated or deleted in any table by this test's transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
            " FROM pg_stat_xact_user_tables"
        )
        return cursor.fetchone()[0]


def scan(path: str) -> set[int]:
    """What a scanner does: fetch the link again and again, each time as a new client (no
    cookie from the last answer is sent back), with GET and with HEAD."""
    statuses = set()
    for _ in range(FETCHES):
        got = Client().get(path, **SCANNER)
        head = Client().head(path, **SCANNER)
        assert head.status_code == got.status_code, path  # HEAD answers like GET ...
        assert head.content == b""  # ... without the body
        assert head["Content-Type"] == got["Content-Type"]
        statuses.add(got.status_code)
    return statuses


_tokens: dict[int, str] = {}


def cancel_path(name: str, subscription) -> str:
    """The path of a page of ``subscription``'s cancel link (one link per subscription)."""
    token = _tokens.get(subscription.pk) or _tokens.setdefault(
        subscription.pk, make_token(purpose="cancel", payload={"id": subscription.pk})
    )
    return reverse(f"cancellations:{name}", args=[token])


@pytest.fixture(autouse=True)
def fresh_tokens():
    _tokens.clear()


@pytest.mark.slow
@pytest.mark.django_db
def test_scanned_cancel_links_write_nothing_and_a_persons_first_click_opens_one_case(
    defaults,  # noqa: F811
):
    make_endpoint(url="https://hooks.example.com/tack")  # every event would be delivered
    subscription = make_subscription(plan=make_plan())
    links = {
        "entry": cancel_path("entry", subscription),
        "leave": cancel_path("leave", subscription),
        "offers": cancel_path("offers", subscription),  # no case: back to the first page
        "done": cancel_path("done", subscription),
    }
    before, written = rows(), rows_written()

    statuses = {name: scan(path) for name, path in links.items()}

    assert statuses == {"entry": {200}, "leave": {200}, "offers": {303}, "done": {303}}
    assert rows() == before
    assert rows_written() == written

    # A person's first click on a reason opens exactly one case, and says so by webhook.
    person = Client()
    assert person.get(links["entry"]).status_code == 200
    reason = ExitReason.objects.get(code="price")
    response = person.post(cancel_path("reason", subscription), {"reason": reason.pk})
    assert response["Location"] == links["offers"]
    case = CancellationCase.objects.get()
    assert case.subscription == subscription and case.reason == reason
    assert list(case.steps.order_by("pk").values_list("kind", flat=True)) == [
        "opened",
        "reason_chosen",
        "offers_shown",
    ]
    started = WebhookDelivery.objects.filter(event_type=WebhookEventType.CANCELLATION_STARTED)
    assert started.count() == 1
    # Scanners fetching the links again (now they lead to the offers) still change nothing.
    before, written = rows(), rows_written()
    assert scan(links["entry"]) == {303}
    assert scan(links["offers"]) == {200}
    assert rows() == before and rows_written() == written


@pytest.mark.slow
@pytest.mark.django_db
def test_scanned_undo_comeback_and_unsubscribe_links_write_nothing(customer_a):
    make_endpoint(url="https://hooks.example.com/tack")
    links = {
        "undo": reverse("cancellations:undo", args=[customer_a.undo_token]),
        "comeback": reverse("winback:comeback", args=[customer_a.comeback_token]),
        "unsubscribe": reverse("winback:unsubscribe", args=[customer_a.unsubscribe_token]),
    }
    before, written = rows(), rows_written()

    statuses = {name: scan(path) for name, path in links.items()}

    assert statuses == {"undo": {200}, "comeback": {200}, "unsubscribe": {200}}
    assert rows() == before
    assert rows_written() == written
    # The person's click does what the link is for, once.
    person = Client()
    for path in links.values():
        assert person.post(path).status_code == 200
    assert rows()["comebacks"] == before["comebacks"] + 1
    assert rows()["suppressions"] == before["suppressions"] + 1
    customer_a.case.refresh_from_db()
    assert customer_a.case.withdrawn_at is not None


def at_once(click, times: int = 2) -> list:
    """``click`` from ``times`` threads released together, each a browser of its own on its
    own database connection: a double click."""
    barrier, answers = threading.Barrier(times), []

    def run():
        browser = Client()
        barrier.wait()
        try:
            answers.append(click(browser))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_a_double_clicked_first_click_still_opens_one_case(defaults):  # noqa: F811
    make_endpoint(url="https://hooks.example.com/tack")
    price = ExitReason.objects.get(code="price")

    # A reason clicked twice at once.
    chose = make_subscription(plan=make_plan())
    answers = at_once(lambda b: b.post(cancel_path("reason", chose), {"reason": price.pk}))
    assert [(a.status_code, a["Location"]) for a in answers] == [
        (303, cancel_path("offers", chose))
    ] * 2
    assert CancellationCase.objects.filter(subscription=chose).count() == 1
    assert CaseStep.objects.filter(case__subscription=chose, kind="opened").count() == 1
    started = WebhookDelivery.objects.filter(event_type=WebhookEventType.CANCELLATION_STARTED)
    assert started.count() == 1

    # "Cancel my subscription now" clicked twice at once.
    leaves = make_subscription(plan=make_plan())
    answers = at_once(lambda b: b.post(cancel_path("leave", leaves)))
    assert [(a.status_code, a["Location"]) for a in answers] == [
        (303, cancel_path("done", leaves))
    ] * 2
    [case] = CancellationCase.objects.filter(subscription=leaves)
    assert (case.outcome, case.reason_id) == ("cancelled", None)
    assert leaves.events.filter(kind=EventKind.CANCEL_REQUESTED).count() == 1
    assert OutboundEmail.objects.filter(kind="cancellation_cancelled").count() == 1

    # The receipt's undo link clicked twice at once.
    answers = at_once(lambda b: b.post(cancel_links.undo_path(case=case)))
    assert [a.status_code for a in answers] == [200, 200]
    assert leaves.events.filter(kind=EventKind.CANCEL_WITHDRAWN).count() == 1
    assert case.steps.filter(kind="withdrawn").count() == 1
    leaves.refresh_from_db()
    assert leaves.status == SubscriptionStatus.ACTIVE

    # The unsubscribe link clicked twice at once.
    customer = chose.customer
    path = winback_links.unsubscribe_url(customer=customer).removeprefix("http://testserver")
    answers = at_once(lambda b: b.post(path))
    assert [a.status_code for a in answers] == [200, 200]
    assert Suppression.objects.filter(customer=customer).count() == 1
    unsubscribed = WebhookDelivery.objects.filter(event_type=WebhookEventType.CUSTOMER_UNSUBSCRIBED)
    assert unsubscribed.count() == 1
    # Nothing else opened a case along the way.
    assert CancellationCase.objects.count() == 2
