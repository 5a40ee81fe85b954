"""Cancellation cases for the demo, as the flow's services would have written them.

``OfferEngine`` proposes what ``cancellations.selectors.offers_for`` would (the configured
rules, their conditions, cooldowns and the economics guard), and ``CaseDraft`` records a case
step by step — opened, reason chosen, offers shown, then accepted, declined or abandoned —
with the timestamps, offers, steps and callback requests the services write. What a case
does to the subscription (its ledger rows) is written by ``demo.history``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from cancellations.services import CALLBACK_WINDOW_START
from demo.dates import months_after
from demo.writer import iso_text, json_text

CENT = Decimal("0.01")

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


@dataclass(frozen=True, slots=True)
class Rule:
    """An active offer rule, as the offer engine reads it."""

    id: int
    kind: str
    reasons: frozenset[str]
    min_tenure_months: int
    min_monthly_value: Decimal
    requires_cheaper_plan: bool
    cooldown_months: int
    max_cost_share: Decimal
    pause_max_months: int
    discount_percent: int
    discount_months: int
    bonus_kind: str
    bonus_amount: Decimal
    starts_on: date | None
    ends_on: date | None


@dataclass(slots=True)
class Proposal:
    rule: Rule
    kind: str
    parameters: dict
    cost: Decimal
    parameters_json: str = "{}"


def load_rules() -> list[Rule]:
    """The active offer rules in the engine's order (priority, then age)."""
    from cancellations.models import OfferRule

    default_share = Decimal(str(settings.TACK_OFFER_MAX_COST_SHARE))
    rules = []
    active = OfferRule.objects.filter(active=True).order_by("-priority", "pk")
    for rule in active.prefetch_related("reasons"):
        rules.append(
            Rule(
                id=rule.pk,
                kind=rule.kind,
                reasons=frozenset(reason.code for reason in rule.reasons.all()),
                min_tenure_months=rule.min_tenure_months,
                min_monthly_value=rule.min_monthly_value,
                requires_cheaper_plan=rule.requires_cheaper_plan,
                cooldown_months=rule.cooldown_months,
                max_cost_share=default_share
                if rule.max_cost_share is None
                else rule.max_cost_share,
                pause_max_months=rule.pause_max_months,
                discount_percent=rule.discount_percent,
                discount_months=rule.discount_months,
                bonus_kind=rule.bonus_kind,
                bonus_amount=rule.bonus_amount,
                starts_on=rule.starts_on,
                ends_on=rule.ends_on,
            )
        )
    return rules


class OfferEngine:
    """``offers_for`` over the demo's in-memory subscriptions."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self.remaining_months = settings.TACK_EXPECTED_REMAINING_MONTHS
        self.callback_cost = Decimal(str(settings.TACK_CALLBACK_COST)).quantize(CENT)
        self._parameters_json: dict[tuple, str] = {}

    def offers_for(
        self, life, reason: str, at: datetime, today: date, tenure: int
    ) -> list[Proposal]:
        proposals: list[Proposal] = []
        for rule in self.rules:
            if len(proposals) == 2:
                break
            if rule.reasons and reason not in rule.reasons:
                continue
            if (rule.starts_on and rule.starts_on > today) or (
                rule.ends_on and rule.ends_on < today
            ):
                continue
            if any(p.kind == rule.kind for p in proposals):
                continue
            if tenure < rule.min_tenure_months or life.amount < rule.min_monthly_value:
                continue
            if rule.requires_cheaper_plan and life.plan.cheaper is None:
                continue
            accepted = life.accepted.get(rule.kind)
            if accepted and accepted > months_after(at, -rule.cooldown_months):
                continue
            proposal = self._proposal(rule, life, at, tenure)
            if proposal is None:
                continue
            limit = (life.amount * self.remaining_months).quantize(CENT) * rule.max_cost_share
            if proposal.cost > limit.quantize(CENT):
                continue
            proposals.append(proposal)
        return proposals

    def _proposal(self, rule: Rule, life, at: datetime, tenure: int) -> Proposal | None:
        amount, kind = life.amount, rule.kind
        if kind == "pause":
            if life.status != "active":
                return None
            months = rule.pause_max_months
            return self._made(rule, {"max_months": months}, (amount * months).quantize(CENT))
        if kind == "downgrade":
            cheaper = life.plan.cheaper
            if cheaper is None or cheaper.price >= amount:
                return None
            saving = amount - cheaper.price
            parameters = {
                "plan_id": cheaper.id,
                "plan": cheaper.code,
                "plan_name": cheaper.name,
                "new_price": str(cheaper.price),
                "monthly_saving": str(saving),
            }
            return self._made(rule, parameters, (saving * self.remaining_months).quantize(CENT))
        if kind == "loyalty_bonus":
            value = amount if rule.bonus_kind == "free_month" else rule.bonus_amount
            if value <= 0:
                return None
            parameters = {"bonus": rule.bonus_kind, "amount": str(value), "years": tenure // 12}
            return self._made(rule, parameters, value.quantize(CENT))
        if kind == "discount":
            if life.discount_until is not None and life.discount_until > at:
                return None
            percent, months = rule.discount_percent, rule.discount_months
            new_price = (amount * (100 - percent) / 100).quantize(CENT)
            parameters = {"percent": percent, "months": months, "new_price": str(new_price)}
            return self._made(rule, parameters, ((amount - new_price) * months).quantize(CENT))
        if kind == "callback":
            return self._made(rule, {}, self.callback_cost)
        return None

    def _made(self, rule: Rule, parameters: dict, cost: Decimal) -> Proposal:
        """A proposal, its parameters' JSON made once per distinct offer (there are few)."""
        key = (rule.id, *parameters.values())
        text = self._parameters_json.get(key)
        if text is None:
            text = self._parameters_json[key] = json_text(parameters)
        return Proposal(rule, rule.kind, parameters, cost, text)


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
        self.step(case, "declined", at, '{"immediately":%s}' % ("true" if immediately else "false"))

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
