"""Each demo subscription's history: when it asked to cancel, what it was offered, what it
took, and the ledger rows all of that wrote — in time order, so the cases, the ledger and the
subscription's final state always agree.

The cancellation flow went live two years before the demo's today; in its first year most
cancellations still came in through the company's own systems (no case), since then most go
through the flow (web or phone). Most customers who open a case stay (a pause,
a cheaper plan, a loyalty bonus, a discount, or an agent's call back); those who go anyway
become lost customers.
"""

from bisect import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from demo.cases import (
    CALL_NOTES,
    CALLBACK_WINDOWS,
    COMPETITORS,
    REASON_WEIGHTS,
    REASONS_OF_THE_CANCELLED,
    REASONS_OF_THE_SAVED,
    REASONS_ON_THE_CALL,
    TEXTS,
    Agent,
    CallBack,
    CaseBook,
    CaseDraft,
    OfferEngine,
    Proposal,
    callback_due,
)
from demo.dates import company_zone, local_date, months_after, period_end_after, tenure_at
from demo.writer import iso_text

CENT = Decimal("0.01")
DAY = timedelta(days=1)

FLOW_DAYS = 730  # the flow went live this many days before today
FULL_FLOW_DAYS = 365  # since then most cancellations go through it
CASE_SHARE_BEFORE = 0.3  # before that, the share of cancellations that did
CASE_SHARE_SINCE = 0.8  # since then (the rest still come in through the company's systems)

# The share of subscriptions whose history ends in each way (the rest stay active).
COMPANY_CANCELS = 0.012  # we ended it: non-payment or misuse
CUSTOMER_LEAVES = 0.27  # asked to cancel in the last two years
RECENTLY_ASKED = 0.06  # of those, in the last five weeks (many still in their last period)
PAUSE_RUNS = 0.02  # saved by a pause that is still running
CALL_BACK_WAITED = 0.0005  # asked in the last day to be called back, and waits for it

EARLIER_ATTEMPTS = 0.155  # an earlier cancellation attempt the customer did not go through with
SECOND_ATTEMPT = 0.15  # of those, a second one
ATTEMPT_SAVED = 0.83  # an earlier attempt ended saved (else the customer left the flow)
ATTEMPT_GAP = timedelta(days=100)  # a pause or discount taken then has ended by the next

PHONE_SHARE = 0.3
CALLBACK_TAKEN = 0.35  # of the customers offered a call back on the web, who asked for one
CANCELLED_NOW = 0.08  # of phone cancellations, those ended at once, not with the period
AGENT_JUDGES = 0.3  # of agents' cases, those where the agent noted a churn group
REASON_SKIPPED = 0.15  # of web cancellations, those who cancelled without giving a reason

# The churn group an agent would usually note for a reason.
AGENT_GROUP = {
    "price": "unintentionally_pushed",
    "competitor_price": "bought_away",
    "competitor_features": "pulled_away",
    "expectations": "unintentionally_pushed",
    "missing_feature": "unintentionally_pushed",
    "poor_service": "unintentionally_pushed",
}
WINDOWS = list(CALLBACK_WINDOWS)
JUDGED_GROUPS = ["unintentionally_pushed", "pulled_away", "bought_away", "self_switcher"]


@dataclass(slots=True)
class BookPlan:
    id: int
    code: str
    name: str
    price: Decimal
    rank: int
    months: int
    cheaper: "BookPlan | None" = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who wrote a ledger row, as ``subscriptions.actors.Actor`` records it."""

    channel: str
    label: str
    user_id: int | None = None


IMPORT = Actor("import", "import")
CUSTOMER_ON_THE_WEB = Actor("web", "customer")
SCHEDULER = Actor("system", "scheduler")
BILLING = Actor("api", "billing")


def on_the_phone(agent: Agent) -> Actor:
    return Actor("phone", agent.username, agent.id)


@dataclass(slots=True)
class Life:
    """A subscription while its history is written: the state its next ledger row starts from."""

    id: int
    customer_id: int
    locale: str
    since: date
    created: datetime
    plan: BookPlan
    amount: Decimal
    status: str = "active"
    sequence: int = 0
    paused_at: datetime | None = None
    paused_until: datetime | None = None
    cancel_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    period_end: datetime | None = None
    discount_percent: int = 0
    discount_until: datetime | None = None
    # offer kind → when the customer last accepted one (the rules' cooldowns read it)
    accepted: dict[str, datetime] = field(default_factory=dict)
    saves: int = 0
    exit_case: CaseDraft | None = None  # the last case that ended in a cancellation

    def snapshot(self) -> str:
        """The ledger's before/after JSON: the fields the demo varies (the services write
        every field of the subscription)."""
        text = (
            f'{{"status":"{self.status}","plan":"{self.plan.code}",'
            f'"monthly_amount":"{self.amount}","currency":"SEK"'
        )
        if self.paused_until is not None:
            text += f',"paused_until":"{iso_text(self.paused_until)}"'
        if self.cancel_at is not None:
            text += f',"cancel_at":"{iso_text(self.cancel_at)}"'
        if self.cancelled_at is not None:
            text += f',"cancelled_at":"{iso_text(self.cancelled_at)}"'
        if self.discount_until is not None:
            text += (
                f',"discount_percent":{self.discount_percent},'
                f'"discount_until":"{iso_text(self.discount_until)}"'
            )
        return text + "}"


EVENT_COLUMNS = (
    "id",
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
    "actor_id",
)


class Ledger:
    """Appends ledger rows, numbering each subscription's from 1."""

    def __init__(self, rows: list, ids):
        self.rows = rows
        self.ids = ids

    def write(self, life: Life, kind, at, actor: Actor, before, *, amount=None, note="") -> None:
        life.sequence += 1
        self.rows.append(
            (
                self.ids.next("event"),
                life.id,
                life.sequence,
                kind,
                actor.channel,
                actor.label,
                before,
                life.snapshot(),
                amount,
                "SEK" if amount is not None else "",
                note,
                at,
                actor.user_id,
            )
        )


def _cumulative(weights: dict[str, int]) -> tuple[list[str], list[float]]:
    total = sum(weights.values())
    return list(weights), [value / total for value in accumulate(weights.values())]


def _offered_for(engine: OfferEngine, kind: str, weights: dict[str, int]) -> dict[str, int]:
    """The reasons (of ``weights``) some rule offers ``kind`` for."""
    rules = [rule for rule in engine.rules if rule.kind == kind]
    if any(not rule.reasons for rule in rules):
        return weights
    codes = set().union(*(rule.reasons for rule in rules))
    return {code: weight for code, weight in weights.items() if code in codes} or weights


class Histories:
    """Writes histories for subscriptions one by one (see the module docstring)."""

    def __init__(self, *, rng, now: datetime, ledger: Ledger, cases: CaseBook, engine, agents):
        self.rng = rng
        self.random = rng.random
        self.now = now
        self.flow_start = now - timedelta(days=FLOW_DAYS)
        self.full_flow_start = now - timedelta(days=FULL_FLOW_DAYS)
        # An attempt abandoned after this would not have been swept as abandoned yet.
        self.latest = now - timedelta(hours=25)
        self.ledger = ledger
        self.cases = cases
        self.engine: OfferEngine = engine
        self.agents: list[Agent] = agents
        self.reasons = {
            "any": _cumulative(REASON_WEIGHTS),
            "saved": _cumulative(REASONS_OF_THE_SAVED),
            "cancelled": _cumulative(REASONS_OF_THE_CANCELLED),
            "call": _cumulative(REASONS_ON_THE_CALL),
        }
        self.pause_reasons = _cumulative(_offered_for(engine, "pause", REASONS_OF_THE_SAVED))
        self.callback_reasons = _cumulative(_offered_for(engine, "callback", REASON_WEIGHTS))

    # --- drawing ---------------------------------------------------------------------

    def _pick(self, choices):
        return choices[int(self.random() * len(choices))]

    def _reason(self, mix: str | tuple) -> str:
        codes, cumulative = self.reasons[mix] if isinstance(mix, str) else mix
        return codes[min(bisect(cumulative, self.random()), len(codes) - 1)]

    def _between(self, start: datetime, end: datetime) -> datetime:
        return start + timedelta(seconds=int(self.random() * (end - start).total_seconds()))

    def _lately(self, start: datetime, end: datetime) -> datetime:
        """A moment between ``start`` and ``end``, more likely near ``end`` (the business,
        and its use of the flow, grew)."""
        return end - timedelta(seconds=int(self.random() ** 1.3 * (end - start).total_seconds()))

    def _seconds(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=low + int(self.random() * (high - low)))

    # --- the story -------------------------------------------------------------------

    def live(self, life: Life, *, upgraded: bool) -> None:
        """Write the subscription's ledger from its start, and its cases; ``upgraded``: it
        started on the next cheaper plan and moved up before the flow went live."""
        opens = max(self.flow_start, life.created + timedelta(days=30))
        if upgraded and life.plan.cheaper and opens - life.created > timedelta(days=150):
            self._upgrade(life, opens)
        else:
            self.ledger.write(life, "started", life.created, IMPORT, "{}")
        roll = self.random()
        if roll < COMPANY_CANCELS:
            self._company_cancels(life, opens)
        elif roll < COMPANY_CANCELS + CUSTOMER_LEAVES:
            self._customer_leaves(life, opens)
        elif roll < COMPANY_CANCELS + CUSTOMER_LEAVES + PAUSE_RUNS:
            self._pause_runs(life, opens)
        elif roll < COMPANY_CANCELS + CUSTOMER_LEAVES + PAUSE_RUNS + CALL_BACK_WAITED:
            self._call_back_waited(life, opens)
        else:
            self._earlier_attempts(life, opens, self.latest, None)
        if life.status == "cancelled":
            return
        if life.status == "cancel_pending":
            life.period_end = life.cancel_at
        elif life.status == "paused":
            started = period_end_after(life.created, life.paused_at)
            life.period_end = started + (life.paused_until - life.paused_at)
        else:
            life.period_end = period_end_after(life.created, self.now)

    def _upgrade(self, life: Life, opens: datetime) -> None:
        plan = life.plan
        life.plan, life.amount = plan.cheaper, plan.cheaper.price
        self.ledger.write(life, "started", life.created, IMPORT, "{}")
        at = self._between(life.created + timedelta(days=60), opens - timedelta(days=60))
        before = life.snapshot()
        life.plan, life.amount = plan, plan.price
        self.ledger.write(life, "plan_changed", at, CUSTOMER_ON_THE_WEB, before)

    def _company_cancels(self, life: Life, opens: datetime) -> None:
        start = max(opens, life.created + timedelta(days=60))
        if start >= self.now - DAY:
            return
        at = self._between(start, self.now - DAY)
        self._earlier_attempts(life, opens, at - ATTEMPT_GAP, at)
        by = "misuse" if self.random() < 0.15 else "non_payment"
        self._cancel(life, at, BILLING, by=by)

    def _customer_leaves(self, life: Life, opens: datetime) -> None:
        recent = self.random() < RECENTLY_ASKED
        days_ago = self.random() * 35 if recent else FLOW_DAYS * self.random() ** 1.25
        at = self.now - timedelta(days=days_ago)
        if at < opens:
            self._earlier_attempts(life, opens, self.latest, None)
            return
        self._earlier_attempts(life, opens, at - ATTEMPT_GAP, at)
        share = CASE_SHARE_SINCE if at >= self.full_flow_start else CASE_SHARE_BEFORE
        if self.random() >= share:
            self._schedule_cancel(life, at, BILLING)
        elif self.random() < PHONE_SHARE:
            self._cancelled_on_the_phone(life, at)
        else:
            self._cancelled_on_the_web(life, at)

    def _pause_runs(self, life: Life, opens: datetime) -> None:
        months = 1 + int(self.random() * 3)
        earliest = max(opens, months_after(self.now, -months) + DAY)
        if earliest >= self.now - DAY:
            self._earlier_attempts(life, opens, self.latest, None)
            return
        at = self._between(earliest, self.now - DAY)
        self._earlier_attempts(life, opens, at - ATTEMPT_GAP, at)
        self._paused(life, at, months)

    def _call_back_waited(self, life: Life, opens: datetime) -> None:
        at = self.now - self._seconds(3600, 30 * 3600)
        if at < opens:
            return
        self._earlier_attempts(life, opens, at - ATTEMPT_GAP, at)
        self._waits_for_call(life, at)

    def _earlier_attempts(self, life: Life, start, end, deadline) -> None:
        """Attempts to cancel between ``start`` and ``end`` that did not end the subscription;
        whatever they set going (a pause, a discount) is over by ``deadline`` (None: may
        still run today)."""
        if end <= start or self.random() >= EARLIER_ATTEMPTS:
            return
        moments = [self._lately(start, end)]
        if self.random() < SECOND_ATTEMPT:
            moments.append(self._lately(start, end))
            moments.sort()
            if moments[1] - moments[0] < ATTEMPT_GAP:
                moments.pop()
        for index, at in enumerate(moments):
            until = moments[index + 1] if index + 1 < len(moments) else deadline
            if self.random() < ATTEMPT_SAVED:
                self._attempt_to_stay(life, at, until)
            else:
                self._abandoned(life, at)

    # --- cases -----------------------------------------------------------------------

    def _open(self, life: Life, channel: str, at: datetime, agent=None) -> tuple[CaseDraft, date]:
        tenure = tenure_at(life.since, at)
        return self.cases.open(life, channel=channel, at=at, tenure=tenure, agent=agent), (
            local_date(at)
        )

    def _offers(self, life: Life, case: CaseDraft, reason: str, at: datetime, today: date):
        return self.engine.offers_for(life, reason, at, today, case.tenure)

    def _words(self, case: CaseDraft, reason: str) -> str:
        """The customer's free text (web) or the agent's notes (phone), and the competitor."""
        if reason.startswith("competitor") or (reason == "price" and self.random() < 0.25):
            case.competitor = self._pick(COMPETITORS) if self.random() < 0.9 else ""
        if case.agent is None:
            return self._pick(TEXTS.get(reason, ("",)))
        return self._pick(CALL_NOTES)

    def _agent_notes(self, case: CaseDraft, notes: str) -> None:
        case.notes = notes
        case.call_duration = 90 + int(self.random() * 1100)
        if self.random() < AGENT_JUDGES:
            usual = AGENT_GROUP.get(case.reason, "self_switcher")
            if case.reason == "price" and case.competitor:
                usual = "bought_away"
            case.churn_group = usual if self.random() < 0.8 else self._pick(JUDGED_GROUPS)

    def _choose(self, life, case, reason, at, today) -> list[Proposal]:
        text = self._words(case, reason)
        proposals = self._offers(life, case, reason, at, today)
        self.cases.choose_reason(case, reason, at, proposals, text=text)
        if case.agent is not None:
            self._agent_notes(case, text)
        return proposals

    def _close(self, case: CaseDraft) -> None:
        self.cases.close(case, self.rng)
        if case.outcome == "cancelled":
            case.life.exit_case = case

    def _abandon(self, case: CaseDraft) -> None:
        """Nobody finished the case: the sweep marks it abandoned a day after it opened."""
        self.cases.abandon(case, case.opened_at + timedelta(hours=24) + self._seconds(0, 900))
        self._close(case)

    def _cancelled_on_the_web(self, life: Life, at: datetime) -> None:
        case, today = self._open(life, "web", at)
        if self.random() < REASON_SKIPPED:
            # "Cancel my subscription" on the first page and its confirming button: the
            # case opens and is declined by that one click, without a reason or an offer.
            self._decline(life, case, at, CUSTOMER_ON_THE_WEB)
            self._close(case)
            return
        reason_at = at  # a web case opens with the customer's first click, a reason
        proposals = self._choose(life, case, self._reason("cancelled"), reason_at, today)
        wants_call = any(p.kind == "callback" for p in proposals) and self._may_call(reason_at)
        if wants_call and self.random() < CALLBACK_TAKEN:
            call = self._call_back(life, case, reason_at)
            self._decline(life, case, call.at, on_the_phone(case.agent))
            self.cases.queue_callback(case, call, closed_at=call.at, note="cancelled")
        else:
            self._decline(life, case, reason_at + self._seconds(20, 240), CUSTOMER_ON_THE_WEB)
        self._close(case)

    def _cancelled_on_the_phone(self, life: Life, at: datetime) -> None:
        agent = self._pick(self.agents)
        case, today = self._open(life, "phone", at, agent)
        self._choose(life, case, self._reason("cancelled"), at, today)
        immediately = self.random() < CANCELLED_NOW
        self._decline(life, case, at, on_the_phone(agent), immediately=immediately)
        self._close(case)

    def _decline(self, life: Life, case: CaseDraft, at, actor: Actor, *, immediately=False):
        if immediately:
            self._cancel(life, at, actor, by="customer")
            effective = at
        else:
            effective = self._schedule_cancel(life, at, actor)
        self.cases.decline(case, at, effective, immediately)

    def _abandoned(self, life: Life, at: datetime) -> None:
        # Opened by choosing a reason (a link only looked at opens no case), then left.
        case, today = self._open(life, "web", at)
        self._choose(life, case, self._reason("any"), at, today)
        self._abandon(case)

    def _may_call(self, at: datetime) -> bool:
        """A call asked for now is made within two days: only if that is before today."""
        return at < self.now - timedelta(days=3)

    def _attempt_to_stay(self, life: Life, at: datetime, deadline) -> None:
        phone = self.random() < PHONE_SHARE
        agent = self._pick(self.agents) if phone else None
        case, today = self._open(life, "phone" if phone else "web", at, agent)
        reason_at = at  # the first click opens a web case with its reason
        proposals = self._choose(life, case, self._reason("saved"), reason_at, today)
        takeable = [p for p in proposals if self._fits(p, reason_at, deadline)]
        if phone or not self._may_call(reason_at):
            takeable = [p for p in takeable if p.kind != "callback"]
        if not takeable:
            if not phone:
                self._abandon(case)
            # An agent's call that found nothing to offer is not logged as a case.
            return
        chosen = takeable[0] if len(takeable) == 1 or self.random() < 0.7 else takeable[1]
        if chosen.kind == "callback":
            self._saved_on_the_call_back(life, case, reason_at, deadline)
            return
        decided = reason_at if phone else reason_at + self._seconds(20, 240)
        actor = on_the_phone(agent) if phone else CUSTOMER_ON_THE_WEB
        self._take(life, case, chosen, decided, actor, deadline)
        self._close(case)

    def _fits(self, proposal: Proposal, at: datetime, deadline) -> bool:
        """Whether what the offer sets going is over before the next thing that happens."""
        if deadline is None:
            return True
        if proposal.kind == "pause":
            return months_after(at, 1) < deadline
        if proposal.kind == "discount":
            return months_after(at, proposal.parameters["months"]) < deadline
        return True

    def _plan_call(self, reason_at: datetime) -> CallBack:
        requested_at = reason_at + self._seconds(20, 120)
        window = self._pick(WINDOWS)
        due = callback_due(requested_at, window, company_zone())
        return CallBack(requested_at, window, due, due + self._seconds(60, 90 * 60))

    def _call_back(self, life: Life, case: CaseDraft, reason_at, call=None) -> CallBack:
        """The customer asks for a call; an agent takes it from the queue and calls."""
        call = call or self._plan_call(reason_at)
        self.cases.request_callback(case, call.requested_at, call.due, call.window)
        life.accepted["callback"] = call.requested_at
        case.agent = self._pick(self.agents)
        self.cases.step(case, "resumed", call.at, '{"channel":"phone"}')
        notes = self._pick(CALL_NOTES)
        case.reason_text = notes or case.reason_text
        self._agent_notes(case, notes)
        return call

    def _saved_on_the_call_back(self, life: Life, case: CaseDraft, reason_at, deadline) -> None:
        """The agent calls back and saves the customer with an offer shown on the web or,
        when none fits, with one for the reason the customer gives on the phone."""
        call = self._plan_call(reason_at)
        shown = [
            p
            for p in case.on_the_table()
            if p.kind != "callback" and self._fits(p, call.at, deadline)
        ]
        reason, proposals = case.reason, []
        if not shown:
            today = local_date(call.at)
            for _ in range(3):
                reason = self._reason("call")
                proposals = self._offers(life, case, reason, call.at, today)
                shown = [
                    p
                    for p in proposals
                    if p.kind != "callback" and self._fits(p, call.at, deadline)
                ]
                if shown:
                    break
        if not shown:
            self._abandon(case)
            return
        self._call_back(life, case, reason_at, call)
        if proposals:
            self.cases.choose_reason(case, reason, call.at, proposals, text=case.notes)
        actor = on_the_phone(case.agent)
        self._take(life, case, shown[0], call.at, actor, deadline)
        self.cases.queue_callback(case, call, closed_at=call.at, note="saved")
        self._close(case)

    def _waits_for_call(self, life: Life, at: datetime) -> None:
        case, today = self._open(life, "web", at)
        reason_at = at
        proposals = self._choose(life, case, self._reason(self.callback_reasons), reason_at, today)
        if not any(p.kind == "callback" for p in proposals):
            return
        call = self._plan_call(reason_at)
        self.cases.request_callback(case, call.requested_at, call.due, call.window)
        life.accepted["callback"] = call.requested_at
        self.cases.queue_callback(case, call)
        self._close(case)

    def _paused(self, life: Life, at: datetime, months: int) -> None:
        phone = self.random() < PHONE_SHARE
        agent = self._pick(self.agents) if phone else None
        case, today = self._open(life, "phone" if phone else "web", at, agent)
        reason_at = at  # the first click opens a web case with its reason
        proposals = self._choose(life, case, self._reason(self.pause_reasons), reason_at, today)
        pause = next((p for p in proposals if p.kind == "pause"), None)
        if pause is None:
            return
        decided = reason_at if phone else reason_at + self._seconds(20, 240)
        actor = on_the_phone(agent) if phone else CUSTOMER_ON_THE_WEB
        months = min(months, pause.parameters["max_months"])
        self._take(life, case, pause, decided, actor, None, months=months)
        self._close(case)

    # --- what an accepted offer does to the subscription (the services' ledger rows) ----

    def _take(self, life, case, proposal, at, actor: Actor, deadline, *, months=None) -> None:
        kind = proposal.kind
        if kind == "pause":
            months = months or self._pause_months(proposal, at, deadline)
            cost = (life.amount * months).quantize(CENT)
            offer_id = self.cases.accept(case, kind, at, cost, f'{{"months":{months}}}')
            self._pause(life, at, months, actor)
        else:
            offer_id = self.cases.accept(case, kind, at, proposal.cost)
            if kind == "downgrade":
                self._downgrade(life, at, actor, offer_id)
            elif kind == "loyalty_bonus":
                before = life.snapshot()
                note = f"loyalty bonus, offer {offer_id}"
                self.ledger.write(
                    life, "credit_granted", at, actor, before, amount=life.amount, note=note
                )
            elif kind == "discount":
                self._discount(life, at, actor, proposal.parameters)
        life.accepted[kind] = at
        life.saves += 1

    def _pause_months(self, proposal: Proposal, at: datetime, deadline) -> int:
        most = proposal.parameters["max_months"]
        months = 1 + int(self.random() * most)
        while deadline is not None and months > 1 and months_after(at, months) >= deadline:
            months -= 1
        return months

    def _pause(self, life: Life, at: datetime, months: int, actor: Actor) -> None:
        before = life.snapshot()
        life.status, life.paused_at, life.paused_until = "paused", at, months_after(at, months)
        self.ledger.write(life, "paused", at, actor, before)
        if life.paused_until <= self.now:
            resumed = life.paused_until
            before = life.snapshot()
            life.status, life.paused_at, life.paused_until = "active", None, None
            self.ledger.write(life, "resumed", resumed, SCHEDULER, before)

    def _downgrade(self, life: Life, at: datetime, actor: Actor, offer_id: int) -> None:
        before = life.snapshot()
        life.plan = life.plan.cheaper
        life.amount = life.plan.price
        self.ledger.write(life, "plan_changed", at, actor, before, note=f"offer {offer_id}")

    def _discount(self, life: Life, at: datetime, actor: Actor, parameters: dict) -> None:
        percent, months = parameters["percent"], parameters["months"]
        before = life.snapshot()
        life.discount_percent, life.discount_until = percent, months_after(at, months)
        value = (life.amount * percent / 100 * months).quantize(CENT)
        self.ledger.write(life, "discount_granted", at, actor, before, amount=value)
        if life.discount_until <= self.now:
            ended = life.discount_until
            before = life.snapshot()
            life.discount_percent, life.discount_until = 0, None
            self.ledger.write(life, "updated", ended, SCHEDULER, before, note="discount ended")

    def _schedule_cancel(self, life: Life, at: datetime, actor: Actor) -> datetime:
        """Cancel with the paid period; returns when it takes effect."""
        before = life.snapshot()
        end = period_end_after(life.created, at)
        life.status, life.cancel_at, life.cancelled_by = "cancel_pending", end, "customer"
        self.ledger.write(life, "cancel_requested", at, actor, before)
        if end <= self.now:
            self._cancel(life, end, SCHEDULER, by="customer")
            life.period_end = end
        return end

    def _cancel(self, life: Life, at: datetime, actor: Actor, *, by: str) -> None:
        before = life.snapshot()
        life.status, life.cancelled_at, life.cancelled_by = "cancelled", at, by
        life.cancel_at = life.paused_until = life.paused_at = None
        life.period_end = period_end_after(life.created, at)
        self.ledger.write(life, "cancelled", at, actor, before)
