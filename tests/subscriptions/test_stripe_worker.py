"""Billing commands on a real Celery worker: the decision's transaction writes the command,
the commit publishes it to Redis, a worker process (production settings, the Stripe gateway)
carries it out in the Stripe server with its Idempotency-Key, and records Stripe's answer."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.enums import BillingCommandStatus as Status
from core.models import BillingCommand
from subscriptions import services
from subscriptions.actors import Actor
from tests.faults.conftest import (  # noqa: F401 - broker, private_redis, _worker_parents: fixtures
    _worker_parents,
    broker,
    private_redis,
    run_database_url,
    start_worker,
    stop_process,
    tack_env,
)
from tests.helpers import wait_until
from tests.subscriptions.conftest import GATEWAY, SECRET_KEY, remote, stripe_subscription

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
AGENT = Actor.system("agent")


def test_a_worker_carries_out_each_decision_in_stripe_once(
    stripe_book,
    broker,  # noqa: F811
    tmp_path,
):
    server = stripe_book.server
    paused, credited = (stripe_subscription(server, stripe_book.basic) for _ in range(2))
    env = tack_env(
        database_url=run_database_url(),
        redis_url=broker.url,
        TACK_BILLING_GATEWAY=GATEWAY,
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_API_BASE=server.url,
        STRIPE_TIMEOUT_SECONDS="5",
    )
    worker = start_worker(env, tmp_path / "worker.log")
    until = timezone.now().replace(microsecond=0) + timedelta(days=40)
    try:
        services.subscription_pause(subscription=paused, until=until, actor=AGENT)
        services.subscription_grant_credit(
            subscription=credited, amount=Decimal("49.00"), actor=AGENT
        )
        services.subscription_change_plan(
            subscription=credited, plan=stripe_book.small, actor=AGENT
        )
        wait_until(
            lambda: (
                set(BillingCommand.objects.values_list("status", flat=True)) == {Status.APPLIED}
                and BillingCommand.objects.count() == 3
            ),
            timeout=60,
        )
        time.sleep(1)  # nothing more may arrive
    finally:
        stop_process(worker)

    assert remote(server, paused).pause_collection["resumes_at"] == int(until.timestamp())
    v1 = server.client().v1
    entries = v1.customers.balance_transactions.list(credited.customer.external_id).data
    assert [entry.amount for entry in entries] == [-4900]
    assert remote(server, credited)["items"]["data"][0]["price"]["id"] == stripe_book.small.code
    calls = server.get("/_config/tack/requests")
    keys = [command.idempotency_key for command in BillingCommand.objects.all()]
    assert {key: calls[key] for key in keys} == dict.fromkeys(keys, 1)
