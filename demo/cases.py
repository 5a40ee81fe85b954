"""Cancellation cases for the demo, as the flow's services would have written them.

``OfferEngine`` proposes what ``cancellations.selectors.offers_for`` does, by calling the
same ``cancellations.offer_rules.proposals`` over the demo's in-memory subscriptions, and ``CaseDraft`` records a case
step by step — opened with a reason (or cancelled at once, without one), offers shown, then
accepted, declined or abandoned —
with the timestamps, offers, steps and callback requests the services write. What a case
does to the subscription (its ledger rows) is written by ``demo.history``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from cancellations import offer_rules
from cancellations.selectors import offer_economics, offer_rules_in_force
from demo.writer import iso_text, json_text
from desk.enums import CALLBACK_WINDOW_START

if TYPE_CHECKING:
    from demo.history import BookPlan, Life

# Why customers leave overall (the bench for lost customers draws from this mix).
REASON_WEIGHTS = {
    "price": 22,
    "competitor_price": 10,
    "competitor_features": 6,
    "no_need": 14,
    "moving": 8,
    "illness": 4,
    "lost_job": 5,
    "family_change": 4,
    "new_job": 5,
    "expectations": 8,
    "missing_feature": 5,
    "poor_service": 5,
    "other": 4,
}
# Those who stay mostly had a life change or a price worry an offer fits (the domain brief);
# those who go anyway more often went to a competitor or were let down.
REASONS_OF_THE_SAVED = {
    "moving": 11,
    "illness": 7,
    "lost_job": 8,
    "family_change": 6,
    "new_job": 8,
    "price": 24,
    "competitor_price": 8,
    "no_need": 12,
    "expectations": 5,
    "missing_feature": 3,
    "poor_service": 4,
    "competitor_features": 3,
    "other": 1,
}
REASONS_OF_THE_CANCELLED = {
    "price": 24,
    "competitor_price": 14,
    "competitor_features": 10,
    "no_need": 9,
    "moving": 3,
    "illness": 2,
    "lost_job": 2,
    "family_change": 1,
    "new_job": 2,
    "expectations": 11,
    "missing_feature": 8,
    "poor_service": 10,
    "other": 4,
}
# What an agent hears on a call back when the web reason had no offer that fits.
REASONS_ON_THE_CALL = {"price": 5, "no_need": 2, "moving": 1, "new_job": 1, "lost_job": 1}
TEXTS = {
    "price": ["Too expensive for what I use", "Prices went up again", ""],
    "competitor_features": ["They have an app that works offline", ""],
    "expectations": ["Thought it would include more", ""],
    "missing_feature": ["No family sharing", "Cannot download", ""],
    "poor_service": ["Waited 40 minutes on the phone", "Billing mistake twice", ""],
    "other": ["Just want a break from everything", ""],
}
CALL_NOTES = [
    "Friendly call, thanked them for their years with us",
    "Wanted to talk it through before deciding",
    "Asked what has changed since last year",
    "Calm call, understood the situation",
    "",
]
COMPETITORS = ["Streamly", "Nordflix", "Bokhylla", "Lyssna+"]
CALLBACK_WINDOWS = {str(window): start for window, start in CALLBACK_WINDOW_START.items()}

CASE_COLUMNS = (
    "id",
    "subscription_id",
    "customer_id",
    "channel",
    "outcome",
    "language",
    "reason_id",
    "reason_text",
    "competitor",
    "churn_group",
    "reason_order",
    "plan_id",
    "monthly_amount",
    "currency",
    "tenure_months",
    "opened_at",
    "reason_at",
    "offers_shown_at",
    "decided_at",
    "accepted_offer_id",
    "cancel_effective_at",
    "notes",
)
# Written with every demo case; kept apart because bench/segment_lost_customers.py writes
# cases with CASE_COLUMNS only.
CASE_AGENT_COLUMNS = ("actor_id", "call_duration_seconds")
OFFER_COLUMNS = (
    "id",
    "case_id",
    "rule_id",
    "kind",
    "position",
    "parameters",
    "cost",
    "presented_at",
    "withdrawn",
    "accepted_at",
    "accepted_cost",
    "options",
)
STEP_COLUMNS = ("id", "case_id", "kind", "at", "actor_label", "data")
CALLBACK_COLUMNS = (
    "id",
    "customer_id",
    "subscription_id",
    "source_ref",
    "source",
    "due_at",
    "window",
    "reason",
    "hints",
    "status",
    "assigned_to_id",
    "attempts",
    "taken_at",
    "outcome_note",
    "created_at",
    "closed_at",
)


@dataclass(slots=True)
class Proposal:
    """An offer the engine proposed, with its parameters' JSON as the offer row stores it."""

    rule: offer_rules.Rule
    kind: str
    parameters: dict
    cost: Decimal
    parameters_json: str = "{}"


def load_rules() -> list[offer_rules.Rule]:
    """The active offer rules in the engine's order (``offer_rules_in_force``)."""
    return offer_rules_in_force()


class OfferEngine:
    """``offers_for`` over the demo's in-memory subscriptions: the product's own
    ``offer_rules.proposals`` over the same facts, read from a ``Life`` instead of the
    database. Only data is cached (the plans as downgrade targets, the parameters' JSON)."""

    def __init__(self, rules: list[offer_rules.Rule]):
        self.rules = rules
        self.economics = offer_economics()
        self._cheaper: dict[int, offer_rules.CheaperPlan | None] = {}
        self._applying: dict[tuple[str, date], list[offer_rules.Rule]] = {}
        self._parameters_json: dict[tuple, str] = {}

    def offers_for(
        self, life: "Life", reason: str, at: datetime, today: date, tenure: int
    ) -> list[Proposal]:
        customer = offer_rules.Customer(
            monthly_amount=life.amount,
            status=life.status,
            tenure_months=tenure,
            cheaper_plan=self._cheaper_plan(life.plan),
            discount_until=life.discount_until,
            last_accepted=life.accepted,
        )
        found = offer_rules.proposals(
            rules=self._rules_that_apply(reason, today),
            reason=reason,
            customer=customer,
            now=at,
            today=today,
            economics=self.economics,
        )
        return [self._made(proposal) for proposal in found]

    def _rules_that_apply(self, reason: str, today: date) -> list[offer_rules.Rule]:
        """``offer_rules.rule_applies``, remembered per reason and day (as ``offers_for``
        passes only the rules that apply)."""
        key = (reason, today)
        rules = self._applying.get(key)
        if rules is None:
            rules = self._applying[key] = [
                rule
                for rule in self.rules
                if offer_rules.rule_applies(rule, reason=reason, today=today)
            ]
        return rules

    def _cheaper_plan(self, plan: "BookPlan") -> offer_rules.CheaperPlan | None:
        """The plan's next cheaper plan (``BookPlan.cheaper``) as the engine sees it."""
        try:
            return self._cheaper[plan.id]
        except KeyError:
            cheaper = plan.cheaper
            target = None
            if cheaper is not None:
                target = offer_rules.CheaperPlan(
                    cheaper.id, cheaper.code, cheaper.name, cheaper.price
                )
            self._cheaper[plan.id] = target
            return target

    def _made(self, proposal: offer_rules.Proposal) -> Proposal:
        """The demo's proposal, its parameters' JSON made once per distinct offer (there are
        few)."""
        parameters = proposal.parameters
        key = (proposal.rule.id, *parameters.values())
        text = self._parameters_json.get(key)
        if text is None:
            text = self._parameters_json[key] = json_text(parameters)
        return Proposal(proposal.rule, proposal.kind, parameters, proposal.cost, text)


@dataclass(slots=True)
class Agent:
    id: int
    username: str


@dataclass(slots=True)
class CaseDraft:
    """A case being recorded; ``CaseBook.close`` writes it, its offers and its steps."""

    id: int
    life: object
    channel: str
    opened_at: datetime
    tenure: int
    agent: Agent | None = None
    outcome: str = "open"
    reason: str = ""
    reason_text: str = ""
    competitor: str = ""
    churn_group: str = ""
    notes: str = ""
    call_duration: int | None = None
    reason_at: datetime | None = None
    offers_shown_at: datetime | None = None
    decided_at: datetime | None = None
    cancel_effective_at: datetime | None = None
    accepted_offer: int | None = None
    # (proposal, offer row) for every offer shown; the row is written when the case closes
    offers: list[tuple[Proposal, list]] = field(default_factory=list)
    steps: list[tuple] = field(default_factory=list)
    plan_id: int = 0
    amount: Decimal = Decimal(0)

    def current(self, kind: str) -> tuple[Proposal, list] | None:
        """The offer of ``kind`` still on the table."""
        return next(((p, row) for p, row in self.offers if p.kind == kind and not row[8]), None)

    def on_the_table(self) -> list[Proposal]:
        return [proposal for proposal, row in self.offers if not row[8]]


class CaseBook:
    """Writes cases, their offers, steps and callback requests into the sink's rows."""

    def __init__(self, sink, *, rng, reason_ids: dict[str, int], reason_labels, ids):
        self.cases = sink.rows["cancellations_cancellationcase"]
        self.offers = sink.rows["cancellations_offer"]
        self.steps = sink.rows["cancellations_casestep"]
        self.callbacks = sink.rows["desk_callbackrequest"]
        self.reason_ids = reason_ids
        self.reason_labels = reason_labels
        shown = [pk for code, pk in reason_ids.items() if code != "other"]
        # Each case shows the reasons in its own shuffled order; a thousand orders to draw
        # from look the same and cost a thousand shuffles.
        self.reason_orders = [json_text(rng.sample(shown, len(shown))) for _ in range(1000)]
        self.ids = ids

    def open(self, life, *, channel: str, at: datetime, tenure: int, agent=None) -> CaseDraft:
        case = CaseDraft(
            self.ids.next("case"),
            life,
            channel,
            at,
            tenure,
            agent=agent,
            plan_id=life.plan.id,
            amount=life.amount,
        )
        self.step(case, "opened", at, f'{{"channel":"{channel}"}}')
        return case

    def step(self, case: CaseDraft, kind: str, at: datetime, data: str = "{}", actor="") -> None:
        label = actor or (case.agent.username if case.agent else "customer")
        case.steps.append((self.ids.next("step"), case.id, kind, at, label, data))

    def choose_reason(self, case: CaseDraft, reason: str, at: datetime, proposals, text="") -> None:
        """The reason and the offers shown for it (replacing offers shown for another)."""
        for _proposal, row in case.offers:
            if row[9] is None:
                row[8] = True
        case.reason = reason
        case.reason_text = text or case.reason_text
        case.reason_at = case.reason_at or at
        self.step(case, "reason_chosen", at, f'{{"reason":"{reason}"}}')
        for position, proposal in enumerate(proposals, start=1):
            row = [
                self.ids.next("offer"),
                case.id,
                proposal.rule.id,
                proposal.kind,
                position,
                proposal.parameters_json,
                proposal.cost,
                at,
                False,
                None,
                None,
                "{}",
            ]
            case.offers.append((proposal, row))
        if proposals:
            case.offers_shown_at = case.offers_shown_at or at
            kinds = ",".join(f'"{p.kind}"' for p in proposals)
            self.step(case, "offers_shown", at, f'{{"offers":[{kinds}]}}')

    def accept(self, case: CaseDraft, kind: str, at: datetime, cost: Decimal, options="{}") -> int:
        """The offer of ``kind`` saved the case; returns the offer's id (the ledger notes it)."""
        _proposal, row = case.current(kind)
        row[9], row[10], row[11] = at, cost, options
        case.outcome, case.decided_at, case.accepted_offer = "saved", at, row[0]
        self.step(case, "offer_accepted", at, f'{{"offer":"{kind}","cost":"{cost}"}}')
        return row[0]

    def request_callback(self, case: CaseDraft, at: datetime, due: datetime, window: str) -> None:
        """The customer asked to be called: the case stays open for the agent."""
        _proposal, row = case.current("callback")
        options = f'{{"day":"{due.date().isoformat()}","window":"{window}"}}'
        row[9], row[10], row[11] = at, row[6], options
        self.step(case, "callback_requested", at, f'{{"due_at":"{iso_text(due)}"}}')

    def queue_callback(self, case: CaseDraft, call, *, closed_at=None, note="") -> None:
        """The request in the agents' queue: taken and closed by the agent who called, or
        still open."""
        life = case.life
        taken_at = closed_at - timedelta(seconds=case.call_duration) if closed_at else None
        self.callbacks.append(
            (
                self.ids.next("callback"),
                life.customer_id,
                life.id,
                case.id,
                "cancellation",
                call.due,
                call.window,
                self.reason_labels.get(case.reason, ""),
                "",
                "done" if closed_at else "open",
                case.agent.id if closed_at else None,
                1 if closed_at else 0,
                max(taken_at, call.due) if closed_at else None,
                note,
                call.requested_at,
                closed_at,
            )
        )

    def decline(self, case: CaseDraft, at: datetime, effective: datetime, immediately=False):
        case.outcome, case.decided_at, case.cancel_effective_at = "cancelled", at, effective
        data = '"immediately":' + ("true" if immediately else "false")
        if not case.reason:  # cancelled straight away, without a reason
            data += ',"reason_skipped":true'
        self.step(case, "declined", at, "{" + data + "}")

    def abandon(self, case: CaseDraft, at: datetime) -> None:
        case.outcome, case.decided_at = "abandoned", at
        self.step(case, "abandoned", at, "{}", actor="abandonment sweep")

    def close(self, case: CaseDraft, rng) -> None:
        """Write the case, its offers and its steps."""
        life = case.life
        self.offers.extend(row for _proposal, row in case.offers)
        self.steps.extend(case.steps)
        reason_order = self.reason_orders[int(rng.random() * len(self.reason_orders))]
        self.cases.append(
            (
                case.id,
                life.id,
                life.customer_id,
                case.channel,
                case.outcome,
                life.locale,
                self.reason_ids[case.reason] if case.reason else None,
                case.reason_text,
                case.competitor,
                case.churn_group,
                reason_order,
                case.plan_id,
                case.amount,
                "SEK",
                case.tenure,
                case.opened_at,
                case.reason_at,
                case.offers_shown_at,
                case.decided_at,
                case.accepted_offer,
                case.cancel_effective_at,
                case.notes,
                case.agent.id if case.agent else None,
                case.call_duration,
            )
        )


@dataclass(frozen=True, slots=True)
class CallBack:
    """A call the customer asked for on the web: when, and when the agent called."""

    requested_at: datetime
    window: str
    due: datetime
    at: datetime


def callback_due(accepted_at: datetime, window: str, tz) -> datetime:
    """The start of the chosen window on the next day, in the company's time zone."""
    day = accepted_at.astimezone(tz).date() + timedelta(days=1)
    local = datetime.combine(day, CALLBACK_WINDOWS[window], tzinfo=tz)
    return max(local.astimezone(accepted_at.tzinfo), accepted_at)
