"""Redis (the Celery broker and the cache) stops while customers cancel.

Production-like processes: gunicorn and a Celery worker on config.settings, a private
redis-server, an aiosmtpd server and a webhook receiver. With Redis down every customer walks
the whole flow (and the company's system uses the API): nothing a request does may depend on
the broker or the cache being up. Redis then comes back empty; the worker reconnects, the
sweeps (what beat runs) rebuild the queue from PostgreSQL, and every receipt and every
webhook is delivered exactly once.
"""

import json
import time
from collections import Counter

import pytest

from cancellations import links
from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase, ExitReason
from core.enums import ApiScope, EmailStatus, WebhookDeliveryStatus
from core.models import OutboundEmail, WebhookDelivery
from core.outbox import email as email_outbox
from core.outbox import webhooks as webhook_outbox
from core.services import api_key_create
from tests.cancellations.conftest import defaults  # noqa: F401 - a fixture
from tests.factories import make_endpoint, make_plan, make_subscription
from tests.faults.conftest import (
    Browser,
    customer_ip,
    report,
    run_database_url,
    start_web,
    start_worker,
    stop_process,
    tack_env,
    walk_cancel_flow,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 8


def expected_events(subscription_id: str, saved: bool) -> list[tuple[str, str]]:
    decided = (
        ["subscription.paused", "cancellation.saved"]
        if saved
        else ["subscription.cancel_scheduled", "cancellation.cancelled"]
    )
    return [(subscription_id, kind) for kind in ["cancellation.started", *decided]]


def test_customers_cancel_while_redis_is_down_and_everything_is_sent_once_it_is_back(
    defaults,  # noqa: F811
    broker,
    smtp,
    receiver,
    settings,
    tmp_path,
):
    settings.TACK_EMAIL_LEASE_SECONDS = 5
    settings.TACK_WEBHOOK_LEASE_SECONDS = 5
    make_endpoint(url=receiver.url)
    plan = make_plan(code="standard", price="199.00", rank=2)
    subscriptions = [
        make_subscription(plan=plan, email=f"c{n}@example.com") for n in range(CUSTOMERS + 2)
    ]
    _, api_key = api_key_create(name="billing", scopes=ApiScope.values)
    moving = ExitReason.objects.get(code="moving")  # its offer is a pause

    env = tack_env(
        database_url=run_database_url(),
        redis_url=broker.url,
        smtp_port=smtp.port,
        TACK_WEBHOOK_TIMEOUT_SECONDS="2",
        TACK_WEBHOOK_LEASE_SECONDS="5",
        TACK_EMAIL_LEASE_SECONDS="5",
    )
    web = start_web(env, tmp_path / "web.log")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        # Redis is up: the first customer's receipt and events go out as usual, and the
        # web process now holds connections to Redis that the outage will break.
        first = subscriptions[0]
        walk = walk_cancel_flow(
            web.url,
            links.make_token(purpose="cancel", payload={"s": first.pk}),
            reason_id=moving.pk,
            accept=False,
            deadline=time.monotonic() + 30,
        )
        assert walk.outcome == "done" and not walk.failed(), walk.responses
        wait_until(lambda: len(receiver.accepted()) == 3 and len(smtp.messages) == 1, timeout=30)

        broker.stop()
        assert Browser().get(f"{web.url}/healthz").text.count('"degraded"') == 1

        walks = {}
        for n, subscription in enumerate(subscriptions[1 : CUSTOMERS + 1]):
            token = links.make_token(purpose="cancel", payload={"s": subscription.pk})
            walks[subscription.external_id] = walk_cancel_flow(
                web.url,
                token,
                reason_id=moving.pk,
                accept=n % 2 == 0,
                deadline=time.monotonic() + 15,
                source_ip=customer_ip(n + 1),
            )
            walk = walks[subscription.external_id]
            assert walk.failed() == [], [(r.status, r.url, r.text[-600:]) for r in walk.failed()]
        api_customer = subscriptions[-1]
        browser = Browser()
        opened = browser.api(
            f"{web.url}/api/v1/cancellations/",
            api_key,
            {"subscription": api_customer.external_id, "reason": "price", "channel": "api"},
        )
        case_id = CancellationCase.objects.get(subscription=api_customer).pk
        declined = browser.api(f"{web.url}/api/v1/cancellations/{case_id}/decline/", api_key, {})

        for external_id, walk in walks.items():
            assert walk.outcome == "done", (
                external_id,
                [(r.status, r.url) for r in walk.responses],
            )
            assert walk.failed() == [], [(r.status, r.url, r.text[:300]) for r in walk.failed()]
            assert all(r.seconds < 5 for r in walk.responses), [r.seconds for r in walk.responses]
        assert (opened.status, declined.status) == (201, 200), (opened.text, declined.text)

        # Every case is recorded; nothing was published, and every row the broker refused
        # is marked for the sweep to publish at once.
        outcomes = dict(
            CancellationCase.objects.values_list("subscription__external_id", "outcome")
        )
        assert outcomes == {
            first.external_id: CaseOutcome.CANCELLED,
            api_customer.external_id: CaseOutcome.CANCELLED,
            **{
                subscription.external_id: CaseOutcome.SAVED if n % 2 == 0 else CaseOutcome.CANCELLED
                for n, subscription in enumerate(subscriptions[1 : CUSTOMERS + 1])
            },
        }
        waiting_emails = OutboundEmail.objects.exclude(status=EmailStatus.SENT)
        assert waiting_emails.count() == CUSTOMERS + 1
        assert not waiting_emails.filter(enqueued_at__isnull=False).exists()
        waiting_deliveries = WebhookDelivery.objects.exclude(status=WebhookDeliveryStatus.DELIVERED)
        assert waiting_deliveries.count() == 3 * (CUSTOMERS + 1)
        assert not waiting_deliveries.filter(enqueued_at__isnull=False).exists()
        assert len(smtp.messages) == 1 and len(receiver.accepted()) == 3

        broker.start()  # empty: whatever was queued before the outage is gone too

        supervisor_restarts = 0

        def beat() -> bool:
            nonlocal worker, supervisor_restarts
            if worker.poll() is not None:
                # The worker usually reconnects by itself, but kombu's Redis transport can die
                # on the lost connection ("Unrecoverable error: AttributeError ... 'hostname'"
                # while restoring unacked messages); a supervisor (docker compose's restart
                # policy) starts it again, as here.
                supervisor_restarts += 1
                worker = start_worker(env, tmp_path / "worker.log")
            email_outbox.email_sweep()
            webhook_outbox.webhook_sweep()
            return (
                not OutboundEmail.objects.exclude(status=EmailStatus.SENT).exists()
                and not WebhookDelivery.objects.exclude(
                    status=WebhookDeliveryStatus.DELIVERED
                ).exists()
            )

        started = time.monotonic()
        wait_until(beat, timeout=60, interval=1)
        recovered = time.monotonic() - started
    finally:
        stop_process(worker)
        stop_process(web.process)

    cases = CancellationCase.objects.select_related("subscription")
    decided = {case.subscription.customer.email for case in cases}
    messages = smtp.messages
    assert sorted(message["To"] for message in messages) == sorted(decided)
    assert len({message["Message-ID"] for message in messages}) == len(messages) == len(decided)

    accepted = receiver.accepted()
    assert Counter(post.event_id for post in accepted).most_common(1)[0][1] == 1
    assert sorted(post.event_id for post in accepted) == sorted(
        str(event_id) for event_id in WebhookDelivery.objects.values_list("event_id", flat=True)
    )
    received = sorted(
        (json.loads(post.body)["data"]["subscription"]["external_id"], post.event_type)
        for post in accepted
    )
    expected = sorted(
        event
        for case in cases
        for event in expected_events(
            case.subscription.external_id, case.outcome == CaseOutcome.SAVED
        )
    )
    assert received == expected
    report(
        f"redis down: 1 outage, {CUSTOMERS} customers through the web flow and 1 through the "
        f"API while it was down, 0 failed requests; after it came back {len(messages)}/"
        f"{len(decided)} emails and {len(accepted)}/{WebhookDelivery.objects.count()} webhooks "
        f"delivered once each, in {recovered:.1f} s (worker restarted by the supervisor "
        f"{supervisor_restarts} times)"
    )
