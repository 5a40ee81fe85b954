"""Workers SIGKILLed again and again in the middle of a batch (stress mode).

Each trial: customers leave (a receipt and three webhooks each), win-back outreach is planned
and dispatched, then a worker process starts on it and is SIGKILLed at two different points
(while an SMTP server takes MAIL FROM, while it takes DATA, while the company's receiver
takes a webhook POST — rotating, at a random message), a new worker starts each time, and
the sweeps (what beat runs) settle the dead workers' claims by each kind's delivery promise
(README "Delivery"). Whatever is killed mid-way is not accepted by the far side (the
connection is gone): a receipt (at least once) is sent again and reaches the server once; a
win-back email (marketing, at most once) is not sent again but marked "outcome unknown";
every other email reaches the server exactly once and every webhook is accepted exactly
once — none lost, none twice. (``test_delivery_promises`` kills at moments when the server
may already have accepted.)

``TACK_STRESS_TRIALS`` sets the number of trials (default 5, about a minute here); e.g.
``make stress`` runs 30. They run as shards of ``TRIALS_PER_SHARD`` trials, each shard a test of
its own (its own broker, SMTP server and receiver), so parallel test processes share them.
"""

import os
import random
import threading
import time
from collections import Counter

import pytest
from django.utils import timezone

from core.enums import EmailStatus, WebhookDeliveryStatus
from core.models import OutboundEmail, WebhookDelivery
from core.outbox import email as email_outbox
from core.outbox import webhooks as webhook_outbox
from tests.conftest import CapturingSMTPHandler
from tests.factories import make_endpoint
from tests.faults.conftest import (
    SMTPServer,
    kill_process,
    report,
    run_database_url,
    start_worker,
    stop_process,
    tack_env,
)
from tests.faults.worker_parent import ForkedWorker
from tests.helpers import wait_until
from tests.winback.conftest import campaigns, defaults, make_lost  # noqa: F401 - fixtures
from tests.winback.test_worker import one_campaign_due_now
from winback import services as winback_services
from winback.enums import OutreachStatus
from winback.models import Outreach

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRIALS = int(os.environ.get("TACK_STRESS_TRIALS", "5"))
TRIALS_PER_SHARD = 3
SHARDS = [
    list(range(first, min(first + TRIALS_PER_SHARD, TRIALS)))
    for first in range(0, TRIALS, TRIALS_PER_SHARD)
]
LEAVERS_PER_TRIAL = 5
POINTS = ("smtp MAIL FROM", "smtp DATA", "webhook POST")
SETTLED = (EmailStatus.SENT, EmailStatus.UNKNOWN)


class Killer:
    """Kills the running worker at the n-th occurrence of a point and starts another."""

    def __init__(self, start):
        self.start = start
        self.lock = threading.Lock()
        self.workers: list[ForkedWorker] = []
        self.plan: list[tuple[str, int]] = []
        self.seen: Counter = Counter()
        self.kills: list[str] = []

    def arm(self, plan: list[tuple[str, int]]) -> None:
        with self.lock:
            self.plan, self.seen = list(plan), Counter()
        self.workers.append(self.start())

    def at(self, point: str) -> bool:
        """Called by the far side at ``point``; True if it killed the sender just now.

        Occurrences count from the start of the trial, whichever kill comes first: counting
        the second point only after the first kill could ask for a fourth webhook POST when
        three were left, and the trial would wait for a kill that never comes."""
        with self.lock:
            self.seen[point] += 1
            if (point, self.seen[point]) not in self.plan:
                return False
            self.plan.remove((point, self.seen[point]))
            kill_process(self.workers[-1])
            self.kills.append(point)
            self.workers.append(self.start())
            return True

    def armed(self) -> bool:
        with self.lock:
            return bool(self.plan)


class KillingSMTPHandler(CapturingSMTPHandler):
    def __init__(self, killer: Killer):
        super().__init__()
        self.killer = killer

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.killer.at("smtp MAIL FROM"):
            return "451 4.3.0 Connection lost"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.killer.at("smtp DATA"):
            return "451 4.3.0 Connection lost"
        return await super().handle_DATA(server, session, envelope)


def due_outreach():
    """The contacts due now (the campaign also plans next attempts weeks ahead)."""
    return Outreach.objects.filter(due_at__lte=timezone.now())


def state(killer: Killer) -> dict:
    """What is still waiting, to say why a trial did not drain."""
    return {
        "kills left": killer.plan,
        "seen": dict(killer.seen),
        "emails": list(
            OutboundEmail.objects.exclude(status__in=SETTLED).values_list(
                "pk", "status", "attempts", "enqueued_at", "claimed_at"
            )
        ),
        "deliveries": list(
            WebhookDelivery.objects.exclude(status=WebhookDeliveryStatus.DELIVERED).values_list(
                "pk", "status", "attempts", "enqueued_at"
            )
        ),
        "outreach": list(
            due_outreach().exclude(status=OutreachStatus.SENT).values_list("pk", "status")
        ),
    }


@pytest.mark.parametrize(
    "trials", SHARDS, ids=[f"trials {shard[0] + 1}-{shard[-1] + 1}" for shard in SHARDS]
)
def test_workers_killed_repeatedly_lose_nothing_and_send_nothing_twice_by_its_promise(
    trials,
    campaigns,  # noqa: F811
    broker,
    receiver,
    settings,
    tmp_path,
):
    settings.TACK_EMAIL_LEASE_SECONDS = 3
    settings.TACK_WEBHOOK_LEASE_SECONDS = 3
    settings.TACK_WINBACK_REQUEUE_SECONDS = 2
    one_campaign_due_now()
    make_endpoint(url=receiver.url)
    smtp = SMTPServer(None)
    env = {}

    def new_worker() -> ForkedWorker:
        return start_worker(env, tmp_path / "workers.log")

    killer = Killer(new_worker)
    smtp.handler = KillingSMTPHandler(killer)
    smtp.start()
    env.update(
        tack_env(
            database_url=run_database_url(),
            redis_url=broker.url,
            smtp_port=smtp.port,
            TACK_WEBHOOK_TIMEOUT_SECONDS="1",
            TACK_WEBHOOK_LEASE_SECONDS="3",
            TACK_EMAIL_LEASE_SECONDS="3",
        )
    )
    receiver.on_post = lambda number: not killer.at("webhook POST")
    seed = int(os.environ.get("TACK_STRESS_SEED", "8"))
    started = time.monotonic()
    try:
        for trial in trials:
            rng = random.Random(seed * 1000 + trial)
            first = trial % len(POINTS)
            plan = [
                (POINTS[first], rng.randint(1, 4)),
                (POINTS[(first + 1) % len(POINTS)], rng.randint(1, 4)),  # each point comes 5+ times
            ]
            for n in range(LEAVERS_PER_TRIAL):
                make_lost(reason="expectations", email=f"t{trial}-{n}@example.com")
            winback_services.outreach_plan()
            winback_services.outreach_dispatch_due()
            killer.arm(plan)

            def drained() -> bool:
                # What beat does every few seconds: release dead workers' claims, publish
                # what is due or was lost, carry deliveries back to the outreach.
                email_outbox.email_sweep()
                webhook_outbox.webhook_sweep()
                winback_services.outreach_dispatch_due()
                winback_services.outreach_sync_channels()
                return (
                    not killer.armed()
                    and not OutboundEmail.objects.exclude(status__in=SETTLED).exists()
                    and not WebhookDelivery.objects.exclude(
                        status=WebhookDeliveryStatus.DELIVERED
                    ).exists()
                    and not due_outreach().exclude(status=OutreachStatus.SENT).exists()
                )

            try:
                wait_until(drained, timeout=120, interval=0.5)
            except AssertionError as timeout:
                raise AssertionError(state(killer)) from timeout
            stop_process(killer.workers[-1])
    finally:
        for worker in killer.workers:
            stop_process(worker)
        smtp.stop()
    seconds = time.monotonic() - started

    dead = [worker for worker in killer.workers if worker.returncode == -9]
    assert len(killer.kills) == len(dead) == 2 * len(trials)
    assert Counter(killer.kills) == Counter(
        POINTS[(trial + step) % len(POINTS)] for trial in trials for step in (0, 1)
    )
    # Email: every outbox row but those whose outcome is unknown reached the server exactly
    # once (its Message-ID names it); those are win-back emails cut short by a kill.
    emails = OutboundEmail.objects.all()
    assert emails.count() == 2 * LEAVERS_PER_TRIAL * len(trials)  # a receipt and a win-back each
    unknown = emails.filter(status=EmailStatus.UNKNOWN)
    assert set(unknown.values_list("kind", "attempts")) <= {("winback", 1)}
    message_ids = Counter(message["Message-ID"] for message in smtp.messages)
    domain = "example.com"
    assert message_ids == Counter(
        f"<tack-{pk}@{domain}>"
        for pk in emails.exclude(status=EmailStatus.UNKNOWN).values_list("pk", flat=True)
    )
    assert due_outreach().filter(status=OutreachStatus.SENT).count() == LEAVERS_PER_TRIAL * len(
        trials
    )
    assert not due_outreach().exclude(status=OutreachStatus.SENT).exists()
    # Webhooks: every event accepted exactly once; the extra POSTs are the killed ones.
    accepted = Counter(post.event_id for post in receiver.accepted())
    assert accepted == Counter(
        str(event_id) for event_id in WebhookDelivery.objects.values_list("event_id", flat=True)
    )
    webhook_kills = killer.kills.count("webhook POST")
    assert len(receiver.posts) == sum(accepted.values()) + webhook_kills
    smtp_kills = len(killer.kills) - webhook_kills
    resent = emails.filter(attempts=2)
    assert not resent.filter(kind="winback").exists()  # marketing is never sent again
    assert resent.count() + unknown.count() == smtp_kills
    assert not emails.filter(attempts__gt=2).exists()
    report(
        f"worker kills: trials {trials[0] + 1}-{trials[-1] + 1} of {TRIALS}, {len(killer.kills)} SIGKILLs ({dict(Counter(killer.kills))}), "
        f"{len(killer.workers)} workers started; {len(smtp.messages)}/{emails.count()} emails "
        f"received once each ({resent.count()} receipts sent again after their worker died, "
        f"{unknown.count()} win-back emails outcome unknown), "
        f"{sum(accepted.values())}/{WebhookDelivery.objects.count()} webhooks accepted once "
        f"each ({len(receiver.posts)} POSTs); {seconds:.0f} s"
    )
