"""Two years of win-back for the demo, consistent with the seeded ledger.

The lost customers (written with the book, as the refresh records them) are segmented and
scored by the real services. The shipped campaigns' outreach is then played out for each of
them (``demo.outreach``), some come back (``demo.comebacks``), and all of it is written
with COPY.
"""

from demo.cases import CALLBACK_COLUMNS, Agent
from demo.comebacks import Comebacks
from demo.outreach import (
    OUTREACH_COLUMNS,
    Contact,
    Lost,
    OutreachPlayer,
    call_hints,
    running_campaigns,
)
from demo.writer import IdCounter, RowSink, bulk_load, next_id, reset_sequences
from desk.services import CALLBACK_MAX_ATTEMPTS, CALLBACK_RETRY_AFTER
from winback import segmentation
from winback.enums import OutreachChannel, OutreachStatus
from winback.models import LostCustomer

WINBACK_COLUMNS = {
    "winback_outreach": OUTREACH_COLUMNS,
    "desk_callbackrequest": CALLBACK_COLUMNS,
}


def segment_and_score(ctx) -> None:
    """Sort the lost customers into churn groups and score them, as the refresh does."""
    segmentation.lost_customers_segment()
    segmentation.lost_customers_score(now=ctx.now)
    ctx.counts["lost customers"] = LostCustomer.objects.count()


def _lost_customers() -> list[Lost]:
    rows = (
        LostCustomer.objects.order_by("pk")
        .values_list(
            "pk",
            "customer_id",
            "subscription_id",
            "left_at",
            "contract_months",
            "churn_group",
            "attractiveness",
            "reason__label_en",
            "reason_text",
            "customer__marketing_consent",
            "customer__marketing_consent_at",
            "customer__email",
            "customer__phone",
            "customer__country",
            "customer__locale",
        )
        .iterator(chunk_size=20_000)
    )
    return [Lost(*row[:7], row[7] or "", *row[8:]) for row in rows]


def seed_winback(ctx, agents: list[Agent]) -> None:
    from django.apps import apps

    from winback.defaults import ensure_default_campaigns

    now = ctx.now
    ensure_default_campaigns(apps)
    player = OutreachPlayer(campaigns=running_campaigns(now), now=now, salt=ctx.rng.randrange(100))
    comebacks = Comebacks(rng=ctx.rng, now=now, agents=agents)
    lost_customers = _lost_customers()
    ids = IdCounter(
        {
            "outreach": next_id("winback_outreach"),
            "callback": next_id("desk_callbackrequest"),
        }
    )
    with bulk_load(*WINBACK_COLUMNS), RowSink(WINBACK_COLUMNS) as sink:
        outreach = sink.rows["winback_outreach"]
        callbacks = sink.rows["desk_callbackrequest"]
        for n, lost in enumerate(lost_customers, start=1):
            contacts = comebacks.decide(lost, player.play(lost))
            for contact in contacts:
                contact.id = ids.next("outreach")
                callback_id = None
                if contact.channel == OutreachChannel.PHONE and contact.contacted_at:
                    callback_id = ids.next("callback")
                    callbacks.append(_win_back_call(callback_id, lost, contact, ctx.rng, agents))
                outreach.append(_outreach_row(lost, contact, callback_id))
            if n % 20_000 == 0:
                sink.flush()
                ctx.progress("win-back", n, len(lost_customers))
    reset_sequences(*WINBACK_COLUMNS)
    ctx.counts["outreach"] = sink.written["winback_outreach"]
    ctx.counts["comebacks"] = len(comebacks.returns)
    ctx.counts["ledger events"] = ctx.counts.get("ledger events", 0) + comebacks.write()
    reset_sequences("winback_comeback", "subscriptions_subscriptionevent")


def _outreach_row(lost: Lost, contact: Contact, callback_id: int | None) -> tuple:
    return (
        contact.id,
        lost.id,
        contact.campaign.id,
        lost.customer_id,
        contact.attempt,
        contact.channel,
        contact.due_at,
        contact.status,
        contact.enqueued_at,
        contact.contacted_at,
        contact.sent_at,
        lost.locale,
        None,
        callback_id,
        contact.skip_reason,
        contact.error,
        contact.call_outcome,
        contact.created_at,
    )


def _win_back_call(callback_id: int, lost: Lost, contact: Contact, rng, agents) -> tuple:
    """The call in the agents' queue (``_queue_call``): answered and logged, or given up
    after the queue's retries."""
    agent = agents[int(rng.random() * len(agents))]
    called = contact.contacted_at
    if contact.status == OutreachStatus.FAILED:
        tries = CALLBACK_MAX_ATTEMPTS
        last_try = called + (tries - 1) * CALLBACK_RETRY_AFTER
        status, attempts, note = "no_answer", tries, f"No answer ({tries})"
        taken = closed = last_try
    else:
        status, attempts, note = "done", 1, contact.call_outcome
        taken, closed = called, contact.sent_at
    return (
        callback_id,
        lost.customer_id,
        lost.subscription_id,
        contact.id,
        "winback",
        taken,
        "",
        f"Win-back: {contact.campaign.model.name} (attempt {contact.attempt})",
        call_hints(lost, contact.campaign),
        status,
        agent.id,
        attempts,
        taken,
        note,
        called,
        closed,
    )
