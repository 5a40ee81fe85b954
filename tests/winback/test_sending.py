"""Sending: the message in the customer's language with one-click unsubscribe headers,
exactly once per outreach, consent and suppression checked again at send time, the
per-country contact limit, the phone channel, and channel outcomes carried back."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from core.enums import EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox
from desk.enums import CallbackSource, CallbackStatus
from desk.models import CallbackRequest
from desk.services import callback_close, callback_no_answer
from subscriptions.enums import SubscriptionStatus
from tests.winback.conftest import make_lost
from winback import services
from winback.enums import OutreachStatus
from winback.models import Campaign, Comeback, Outreach, Suppression

pytestmark = pytest.mark.django_db

IMPROVED = "Unintentionally pushed away: what we have improved"
CALL = "A personal call to our most valued lost customers"


@pytest.fixture
def planned(campaigns, django_capture_on_commit_callbacks):
    """Plan ``reason``-leavers into one campaign, due now; returns a maker."""

    def make(campaign=IMPROVED, reason="expectations", **customer):
        Campaign.objects.exclude(name=campaign).update(active=False)
        Campaign.objects.filter(name=campaign).update(
            holdout_percent=0, first_contact_days=0, min_attractiveness=0
        )
        lost = make_lost(reason=reason, **customer)
        services.outreach_plan()
        return Outreach.objects.select_related("campaign").get(lost_customer=lost)

    return make


def send(outreach, capture, **kwargs):
    with capture(execute=True):
        return services.outreach_send(outreach_id=outreach.pk, **kwargs)


def test_email_is_in_the_customers_language_with_unsubscribe_headers(
    planned, django_capture_on_commit_callbacks
):
    outreach = planned(name="Astrid Lindqvist", locale="sv")

    result = send(outreach, django_capture_on_commit_callbacks)

    assert result.status == "queued"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Astrid, vi har gjort det bättre"
    assert message.body.startswith("Hej Astrid Lindqvist,")
    assert "Kundservice svarar nu inom fem minuter" in message.body
    assert "http://testserver/welcome-back/" in message.body
    assert "http://testserver/unsubscribe/" in message.body
    html = message.alternatives[0][0]
    assert "Kom tillbaka" in html and "Avregistrera" in html
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://testserver/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    outreach.refresh_from_db()
    assert (outreach.status, outreach.language) == (OutreachStatus.QUEUED, "sv")
    assert outreach.contacted_at is not None


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("en", "Ann, we have made things better"),
        ("da", "Ann, vi har gjort det bedre"),
        ("nb", "Ann, vi har gjort det bedre"),
    ],
)
def test_email_renders_in_each_language(
    planned, django_capture_on_commit_callbacks, locale, subject
):
    outreach = planned(name="Ann Berg", locale=locale)

    send(outreach, django_capture_on_commit_callbacks)

    assert mail.outbox[0].subject == subject


def test_the_offer_is_in_the_message(planned, django_capture_on_commit_callbacks):
    outreach = planned(
        campaign="Bought away: when their new contract ends", reason="competitor_price"
    )
    Outreach.objects.filter(pk=outreach.pk).update(due_at=timezone.now())

    send(outreach, django_capture_on_commit_callbacks, now=timezone.now())

    assert "25% rabatt de första 3 månaderna" in mail.outbox[0].body


def test_sending_twice_sends_once(planned, django_capture_on_commit_callbacks):
    outreach = planned()

    first = send(outreach, django_capture_on_commit_callbacks)
    second = send(outreach, django_capture_on_commit_callbacks)

    assert (first.status, second.status) == ("queued", "gone")
    assert len(mail.outbox) == 1
    assert OutboundEmail.objects.filter(kind="winback").count() == 1


def test_consent_withdrawn_after_planning_stops_the_send(
    planned, django_capture_on_commit_callbacks
):
    outreach = planned()
    customer = outreach.customer
    customer.marketing_consent = False
    customer.save()

    result = send(outreach, django_capture_on_commit_callbacks)

    outreach.refresh_from_db()
    assert (result.status, outreach.status, outreach.skip_reason) == (
        "skipped",
        OutreachStatus.SKIPPED,
        "no_consent",
    )
    assert mail.outbox == []


def test_legitimate_interest_needs_no_consent_but_respects_unsubscribe(
    planned, django_capture_on_commit_callbacks
):
    Campaign.objects.update(consent_basis="legitimate_interest")
    outreach = planned(consent=False)
    other = planned(consent=False)
    services.customer_unsubscribe(customer=other.customer)

    assert send(outreach, django_capture_on_commit_callbacks).status == "queued"
    other.refresh_from_db()
    assert (other.status, other.skip_reason) == (OutreachStatus.SKIPPED, "unsubscribed")
    assert len(mail.outbox) == 1


def test_unsubscribed_customer_is_never_contacted_again_by_any_campaign(
    planned, django_capture_on_commit_callbacks
):
    outreach = planned()
    services.customer_unsubscribe(customer=outreach.customer)
    Campaign.objects.update(active=True, consent_basis="legitimate_interest", holdout_percent=0)

    services.outreach_plan()

    assert send(outreach, django_capture_on_commit_callbacks).status == "gone"
    assert not Outreach.objects.filter(status=OutreachStatus.SCHEDULED).exists()
    assert mail.outbox == []
    outreach.customer.refresh_from_db()
    assert outreach.customer.marketing_consent is False


def test_a_suppressed_email_address_is_not_contacted_under_another_customer(
    planned, django_capture_on_commit_callbacks
):
    from winback.links import email_hash

    outreach = planned(email="Same.Person@example.com")
    Suppression.objects.create(email_hash=email_hash("same.person@example.com"), source="erased")

    assert send(outreach, django_capture_on_commit_callbacks).detail == "unsubscribed"


def test_a_customer_who_came_back_is_not_contacted(planned, django_capture_on_commit_callbacks):
    from subscriptions import services as subscription_services
    from subscriptions.actors import Actor

    outreach = planned()
    subscription_services.subscription_reactivate(
        subscription=outreach.lost_customer.subscription, actor=Actor.api("billing")
    )

    assert send(outreach, django_capture_on_commit_callbacks).detail == "came_back"


def consented_before(outreach, when):
    outreach.customer.__class__.objects.filter(pk=outreach.customer_id).update(
        marketing_consent_at=when
    )


def test_denmark_limits_contact_to_twelve_months_without_fresh_consent(
    planned, django_capture_on_commit_callbacks
):
    left_at = timezone.now() - timedelta(days=400)
    danish = planned(country="DK", locale="da", left_at=left_at)
    swedish = planned(country="SE", locale="sv", left_at=left_at)
    for outreach in (danish, swedish):
        consented_before(outreach, left_at - timedelta(days=365))

    assert send(danish, django_capture_on_commit_callbacks).detail == "contact_window_passed"
    assert send(swedish, django_capture_on_commit_callbacks).status == "queued"


def test_fresh_consent_after_leaving_lifts_the_country_limit(
    planned, django_capture_on_commit_callbacks
):
    left_at = timezone.now() - timedelta(days=400)
    danish = planned(country="DK", locale="da", left_at=left_at)
    consented_before(danish, left_at - timedelta(days=365))
    assert send(danish, django_capture_on_commit_callbacks).detail == "contact_window_passed"
    danish = planned(country="DK", locale="da", left_at=left_at)
    consented_before(danish, timezone.now() - timedelta(days=3))  # said yes again after leaving

    assert send(danish, django_capture_on_commit_callbacks).status == "queued"


def test_country_limits_are_configurable(planned, django_capture_on_commit_callbacks, settings):
    settings.TACK_WINBACK_CONTACT_LIMIT_MONTHS = {"SE": 6}
    left_at = timezone.now() - timedelta(days=200)
    swedish = planned(country="SE", left_at=left_at)
    consented_before(swedish, left_at - timedelta(days=30))

    assert send(swedish, django_capture_on_commit_callbacks).detail == "contact_window_passed"


def test_delivery_and_failure_are_carried_back_to_the_outreach(
    planned, django_capture_on_commit_callbacks
):
    delivered, failed = planned(), planned()
    send(delivered, django_capture_on_commit_callbacks)
    send(failed, django_capture_on_commit_callbacks)
    failed.refresh_from_db()
    OutboundEmail.objects.filter(pk=failed.email_id).update(
        status=EmailStatus.FAILED, last_error="SMTPRecipientsRefused: 550"
    )

    counts = services.outreach_sync_channels()

    assert counts == {"delivered": 1, "unknown": 0, "failed": 1, "called": 0, "unanswered": 0}
    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert delivered.status == OutreachStatus.SENT and delivered.sent_at is not None
    assert (failed.status, failed.error) == (OutreachStatus.FAILED, "SMTPRecipientsRefused: 550")


def test_smtp_failures_are_retried_and_end_as_failed_with_the_error(
    planned, django_capture_on_commit_callbacks, smtp_server, settings
):
    settings.TACK_EMAIL_MAX_ATTEMPTS = 2
    smtp_server.refuse = True
    outreach = planned()

    send(outreach, django_capture_on_commit_callbacks)  # attempt 1 fails
    email = OutboundEmail.objects.get(kind="winback")
    assert (email.status, email.attempts) == (EmailStatus.PENDING, 1)
    assert email.next_attempt_at > timezone.now()  # backoff
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    email_outbox.email_send(email_id=email.pk)  # attempt 2 fails: give up
    services.outreach_sync_channels()

    outreach.refresh_from_db()
    assert outreach.status == OutreachStatus.FAILED
    assert "451" in outreach.error
    assert smtp_server.messages == []


def test_phone_outreach_goes_to_the_callback_queue_with_hints(
    planned, django_capture_on_commit_callbacks, agent
):
    outreach = planned(campaign=CALL)

    assert send(outreach, django_capture_on_commit_callbacks).status == "queued"

    outreach.refresh_from_db()
    callback = outreach.callback
    assert callback.source == CallbackSource.WINBACK
    assert callback.status == CallbackStatus.OPEN
    assert "We failed them" in callback.hints
    assert "Customer service now answers within five minutes" in callback.hints
    assert mail.outbox == []


def test_the_agents_logged_call_closes_the_outreach_and_can_bring_the_customer_back(
    planned, django_capture_on_commit_callbacks, agent
):
    outreach = planned(campaign=CALL)
    send(outreach, django_capture_on_commit_callbacks)
    outreach.refresh_from_db()

    services.outreach_log_call(outreach=outreach, agent=agent, comes_back=True)

    outreach.refresh_from_db()
    assert outreach.status == OutreachStatus.SENT
    assert outreach.callback.status == CallbackStatus.DONE
    comeback = Comeback.objects.get()
    assert (comeback.outreach, comeback.channel) == (outreach, "phone")
    assert comeback.subscription.status == SubscriptionStatus.ACTIVE


def test_calls_closed_in_the_queue_are_carried_back(
    planned, django_capture_on_commit_callbacks, agent
):
    answered, unanswered = planned(campaign=CALL), planned(campaign=CALL)
    send(answered, django_capture_on_commit_callbacks)
    send(unanswered, django_capture_on_commit_callbacks)
    answered.refresh_from_db()
    unanswered.refresh_from_db()
    callback_close(callback=answered.callback, agent=agent, note="Not now, maybe in spring")
    CallbackRequest.objects.filter(pk=unanswered.callback_id).update(attempts=3)
    callback_no_answer(callback=unanswered.callback, agent=agent)  # the third try: given up

    services.outreach_sync_channels()

    answered.refresh_from_db()
    unanswered.refresh_from_db()
    assert (answered.status, answered.call_outcome) == (
        OutreachStatus.SENT,
        "Not now, maybe in spring",
    )
    assert (unanswered.status, unanswered.error) == (OutreachStatus.FAILED, "no answer")


def test_dispatch_claims_due_rows_once_and_rebuilds_a_lost_queue(planned, settings):
    outreach = planned()

    first = services.outreach_dispatch_due()
    again = services.outreach_dispatch_due()  # enqueued moments ago: left alone
    settings.TACK_WINBACK_REQUEUE_SECONDS = 0
    rebuilt = services.outreach_dispatch_due(now=timezone.now() + timedelta(seconds=1))

    assert (first, again, rebuilt) == ([outreach.pk], [], [outreach.pk])


def test_dispatch_fills_the_queue_up_to_its_target_in_batches(planned, settings):
    settings.TACK_WINBACK_QUEUE_TARGET = 3
    settings.TACK_WINBACK_SEND_BATCH = 2
    rows = [planned().pk for _ in range(5)]

    first = services.outreach_dispatch_due()
    full = services.outreach_dispatch_due()  # 3 in flight: the backlog stays in PostgreSQL
    Outreach.objects.filter(pk__in=first[:2]).update(status=OutreachStatus.SKIPPED)  # handled
    topped_up = services.outreach_dispatch_due()

    assert (first, full, topped_up) == (rows[:3], [], rows[3:])


def test_a_batch_sends_each_email_once_over_one_smtp_connection(
    planned, smtp_server, django_capture_on_commit_callbacks
):
    outreach_ids = [planned(email=f"batch{n}@example.com").pk for n in range(8)]

    with django_capture_on_commit_callbacks(execute=True):
        first = services.outreach_send_batch(outreach_ids=outreach_ids)
        again = services.outreach_send_batch(outreach_ids=outreach_ids)  # a redelivered task

    assert (first, again) == (services.BatchResult(sent=8), services.BatchResult(other=8))
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        f"batch{n}@example.com" for n in range(8)
    )
    assert len(set(smtp_server.peers)) == 1  # one SMTP connection for the whole batch
    emails = OutboundEmail.objects.filter(kind="winback")
    assert sorted(emails.values_list("status", "attempts").distinct()) == [(EmailStatus.SENT, 1)]
    assert services.outreach_sync_channels()["delivered"] == 8
    assert Outreach.objects.filter(pk__in=outreach_ids, status=OutreachStatus.SENT).count() == 8


def test_an_email_refused_in_a_batch_is_retried_and_the_rest_still_go_once(
    planned, smtp_server, django_capture_on_commit_callbacks
):
    outreach_ids = [planned(email=f"refuse{n}@example.com").pk for n in range(3)]
    accept = smtp_server.handle_DATA

    async def refuse_the_second(server, session, envelope):
        if envelope.rcpt_tos == ["refuse1@example.com"] and not smtp_server.messages[1:]:
            return "451 4.3.0 Try again later"
        return await accept(server, session, envelope)

    smtp_server.handle_DATA = refuse_the_second

    result = services.outreach_send_batch(outreach_ids=outreach_ids)

    assert result == services.BatchResult(sent=2, failed=1)
    refused = OutboundEmail.objects.get(kind="winback", to_email="refuse1@example.com")
    assert (refused.status, refused.attempts) == (EmailStatus.PENDING, 1)
    assert "451" in refused.last_error
    OutboundEmail.objects.filter(pk=refused.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        email_outbox.email_sweep()  # the sweep's retry
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == [f"refuse{n}@example.com" for n in range(3)]
    assert OutboundEmail.objects.filter(kind="winback", status=EmailStatus.SENT).count() == 3


def test_a_batch_checks_every_row_again_as_a_single_send_does(
    planned, smtp_server, campaigns, settings
):
    from winback.links import email_hash

    ok = planned(email="ok@example.com")
    suppressed = planned(email="gone@example.com")
    Suppression.objects.create(email_hash=email_hash("gone@example.com"), source="erased")
    withdrawn = planned(email="withdrawn@example.com")
    withdrawn.customer.marketing_consent = False
    withdrawn.customer.save()
    second = Outreach.objects.create(  # another contact of the same customer, due too
        lost_customer=ok.lost_customer,
        campaign=ok.campaign,
        attempt=2,
        customer=ok.customer,
        channel="email",
        due_at=timezone.now(),
    )

    result = services.outreach_send_batch(
        outreach_ids=[ok.pk, suppressed.pk, withdrawn.pk, second.pk]
    )

    assert result == services.BatchResult(sent=1, other=3)
    assert [m["To"] for m in smtp_server.messages] == ["ok@example.com"]
    rows = {o.pk: o for o in Outreach.objects.filter(pk__in=[suppressed.pk, withdrawn.pk])}
    assert (rows[suppressed.pk].status, rows[suppressed.pk].skip_reason) == (
        OutreachStatus.SKIPPED,
        "unsubscribed",
    )
    assert rows[withdrawn.pk].skip_reason == "no_consent"
    second.refresh_from_db()
    cap = timedelta(days=settings.TACK_WINBACK_FREQUENCY_CAP_DAYS)
    assert second.status == OutreachStatus.SCHEDULED  # postponed by the frequency cap
    assert second.due_at > timezone.now() + cap - timedelta(minutes=1)
