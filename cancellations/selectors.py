"""Reads for the cancellation flow, including the offer engine."""

import functools
import hashlib
import random
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from cancellations import offer_rules
from cancellations.enums import CaseOutcome
from cancellations.models import (
    CancellationCase,
    ExitReason,
    Offer,
    OfferRule,
)
from core.sql import (
    execute_prepared,
    instance_from_row,
    instances_from_row,
    prepared_row,
    select_list,
)
from desk import selectors as desk_selectors
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from subscriptions.models import Customer, Plan, Subscription
from subscriptions.selectors import next_cheaper_plan, tenure_months

CENT = Decimal("0.01")
# An offer the engine proposes; ``rule`` is the plain rule (its ``id`` is the OfferRule's pk).
OfferProposal = offer_rules.Proposal
# OfferRule's fields the engine reads (named as in ``offer_rules.Rule``, the pk as ``id``).
RULE_FIELDS = (
    "pk",
    "kind",
    "starts_on",
    "ends_on",
    "min_tenure_months",
    "min_monthly_value",
    "requires_cheaper_plan",
    "cooldown_months",
    "max_cost_share",
    "pause_max_months",
    "discount_percent",
    "discount_months",
    "bonus_kind",
    "bonus_amount",
    "billing_intervals",
    "currencies",
)


def offer_rules_in_force() -> list[offer_rules.Rule]:
    """The active offer rules as plain data, in the engine's order (priority, highest
    first, then age), each with the codes of the exit reasons it names. One query."""
    fields: dict[int, dict] = {}
    reasons: dict[int, set[str]] = {}
    plans: dict[int, set[str]] = {}
    rows = (
        OfferRule.objects.filter(active=True)
        .order_by("-priority", "pk")
        .values(*RULE_FIELDS, "reasons__code", "plans__code")
    )
    for row in rows:
        code, plan, pk = row.pop("reasons__code"), row.pop("plans__code"), row.pop("pk")
        fields.setdefault(pk, row)
        reasons.setdefault(pk, set()).update([code] if code is not None else [])
        plans.setdefault(pk, set()).update([plan] if plan is not None else [])
    return [
        offer_rules.Rule(
            id=pk,
            reasons=frozenset(reasons[pk]),
            plans=frozenset(plans[pk]),
            **{
                **row,
                "billing_intervals": frozenset(row["billing_intervals"]),
                "currencies": frozenset(c.upper() for c in row["currencies"]),
            },
        )
        for pk, row in fields.items()
    ]


def offer_economics() -> offer_rules.Economics:
    """The money figures of the offer engine, from settings."""
    return offer_rules.Economics(
        expected_remaining_months=settings.TACK_EXPECTED_REMAINING_MONTHS,
        default_max_cost_share=Decimal(str(settings.TACK_OFFER_MAX_COST_SHARE)),
        callback_cost=Decimal(str(settings.TACK_CALLBACK_COST)).quantize(CENT),
    )


def cheaper_plan_of(plan: Plan | None) -> offer_rules.CheaperPlan | None:
    """A plan as the offer engine's downgrade target."""
    if plan is None:
        return None
    return offer_rules.CheaperPlan(plan.pk, plan.code, plan.name, plan.monthly_price)


def offers_for(
    *, subscription: Subscription, reason: ExitReason, now: datetime | None = None
) -> list[OfferProposal]:
    """At most two offers, of different kinds, that fit this customer and reason
    (``cancellations.offer_rules.proposals`` over the rules in force and what we know of the
    customer). Phone and web get the same answer for the same customer.

    Queries: the rules, the customer's last accepted offer of each kind, and the next
    cheaper plan only when a rule that applies looks at it.
    """
    now = now or timezone.now()
    today: date = timezone.localdate(now)
    rules = [
        rule
        for rule in offer_rules_in_force()
        if offer_rules.rule_applies(rule, reason=reason.code, today=today)
    ]
    if not rules:
        return []
    last_accepted = dict(
        Offer.objects.filter(case__customer_id=subscription.customer_id, accepted_at__isnull=False)
        .values_list("kind")
        .annotate(last=Max("accepted_at"))
    )
    cheaper = None
    if any(offer_rules.needs_cheaper_plan(rule) for rule in rules):
        cheaper = cheaper_plan_of(next_cheaper_plan(plan=subscription.plan))
    customer = offer_rules.Customer(
        monthly_amount=subscription.monthly_amount,
        status=subscription.status,
        tenure_months=tenure_months(customer=subscription.customer, today=today),
        cheaper_plan=cheaper,
        discount_until=subscription.discount_until,
        last_accepted=last_accepted,
        billing_interval=subscription.plan.billing_interval,
        plan=subscription.plan.code,
        currency=subscription.currency,
    )
    return offer_rules.proposals(
        rules=rules,
        reason=reason.code,
        customer=customer,
        now=now,
        today=today,
        economics=offer_economics(),
    )


# The active reasons, kept in the cache: every entry page shows them, managers change them
# rarely. Dropped when a reason is saved or deleted (``exit_reasons_changed``), and read
# again at the latest after the timeout (a change the signals did not see: a bulk update).
# The key names the model's fields: a deploy that changes them does not read old pickles.
REASONS_KEY = (
    "cancellations:active-exit-reasons:"
    + hashlib.sha256(
        " ".join(f.attname for f in ExitReason._meta.concrete_fields).encode()
    ).hexdigest()[:12]
)
REASONS_TIMEOUT = 300


def active_exit_reasons() -> list[ExitReason]:
    """The active reasons, in their configured order (cached, see ``REASONS_KEY``)."""
    reasons = cache.get(REASONS_KEY)
    if reasons is None:
        reasons = list(ExitReason.objects.filter(active=True))
        cache.set(REASONS_KEY, reasons, REASONS_TIMEOUT)
    return reasons


def exit_reasons_changed(**kwargs) -> None:
    """A reason was saved or deleted: forget the cached list now, and again when the change
    commits (a request that read the old rows in between may have cached them)."""
    cache.delete(REASONS_KEY)
    transaction.on_commit(lambda: cache.delete(REASONS_KEY))


def shuffled_reason_ids(*, seed: str, reasons: list[ExitReason] | None = None) -> list[int]:
    """The active reasons but "something else", in an order shuffled by ``seed``: the same
    link shows the same order on every visit, and the case records it when it opens.
    ``reasons``: the active reasons already read (``active_exit_reasons``), saving a query."""
    if reasons is None:
        ids = list(
            ExitReason.objects.filter(active=True, is_other=False).values_list("pk", flat=True)
        )
    else:  # the same list in the same (configured) order
        ids = [reason.pk for reason in reasons if reason.active and not reason.is_other]
    random.Random(seed).shuffle(ids)
    return ids


def exit_reasons_in_order(
    *, order: list[int], reasons: list[ExitReason] | None = None
) -> list[ExitReason]:
    """The active reasons in the shuffled ``order``, "other" last."""
    reasons = active_exit_reasons() if reasons is None else reasons
    position = {pk: index for index, pk in enumerate(order)}
    return sorted(reasons, key=lambda r: (r.is_other, position.get(r.pk, len(position)), r.order))


# The statement behind every page of the customer's flow, built once per process from the
# models' fields (compiling the same ORM query with its joins cost more than everything else
# such a page does: about 3 ms of Python per request). The rows become model instances
# through ``Model.from_db`` with each field's database converters, as the ORM would.
_FLOW_MODELS = {"open": ("reason",), "latest": ("reason", "accepted_offer"), None: ()}


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(parts: list[tuple[str, type]]) -> str:
    """The select list of each (alias, model) in turn (``core.sql.instances_from_row``)."""
    return ", ".join(column for alias, model in parts for column in select_list(alias, model))


@functools.cache
def _flow_statement(case: str | None) -> str:
    parts = [("s", Subscription), ("cu", Customer), ("pl", Plan)]
    joins = [
        f"{_table(Subscription)} s",
        f"JOIN {_table(Customer)} cu ON cu.id = s.customer_id",
        f"JOIN {_table(Plan)} pl ON pl.id = s.plan_id",
    ]
    if case == "open":
        joins.append(
            f"LEFT JOIN {_table(CancellationCase)} k ON k.subscription_id = s.id "
            f"AND k.outcome = '{CaseOutcome.OPEN}'"
        )
    elif case == "latest":
        joins.append(
            f"LEFT JOIN {_table(CancellationCase)} k ON k.id = (SELECT l.id FROM "
            f"{_table(CancellationCase)} l WHERE l.subscription_id = s.id "
            "ORDER BY l.opened_at DESC, l.id DESC LIMIT 1)"
        )
    if case is not None:
        parts.append(("k", CancellationCase))
        parts.append(("r", ExitReason))
        joins.append(f"LEFT JOIN {_table(ExitReason)} r ON r.id = k.reason_id")
    if case == "latest":
        parts.append(("o", Offer))
        joins.append(f"LEFT JOIN {_table(Offer)} o ON o.id = k.accepted_offer_id")
    return f"SELECT {_columns(parts)} FROM {' '.join(joins)} WHERE s.id = %s"


def flow_subscription(*, pk: int, case: str | None = None) -> Subscription | None:
    """The subscription a cancel link names, with its customer and plan, and in the same
    statement the case the page shows, as ``subscription.flow_case`` (None when there is
    none): ``case="open"`` its open case, with the reason; ``case="latest"`` its latest case
    (as ``latest_case_for``), with the reason and the accepted offer."""
    if case not in _FLOW_MODELS:
        raise ValueError(f"no such case for a flow page: {case!r}")
    row = prepared_row(_flow_statement(case), [pk])
    if row is None:
        return None
    models = [Subscription, Customer, Plan]
    if case is not None:
        models += [CancellationCase, ExitReason]
    if case == "latest":
        models.append(Offer)
    instances = instances_from_row(models, row)
    subscription, customer, plan = instances[:3]
    subscription.customer, subscription.plan = customer, plan
    if case is None:
        return subscription
    found = instances[3]
    if found is not None:
        found.subscription = subscription
        if found.customer_id == customer.pk:
            found.customer = customer
        found.reason = instances[4]
        if case == "latest":
            found.accepted_offer = instances[5]
    subscription.flow_case = found
    return subscription


_LOCKED_CASE_MODELS = (CancellationCase, Subscription, Customer, Plan, ExitReason)


@functools.cache
def _locked_case_statement() -> str:
    columns = _columns(list(zip(("k", "s", "cu", "pl", "r"), _LOCKED_CASE_MODELS, strict=True)))
    return (
        f"SELECT {columns} FROM {_table(CancellationCase)} k "
        f"JOIN {_table(Subscription)} s ON s.id = k.subscription_id "
        f"JOIN {_table(Customer)} cu ON cu.id = k.customer_id "
        f"JOIN {_table(Plan)} pl ON pl.id = s.plan_id "
        f"LEFT JOIN {_table(ExitReason)} r ON r.id = k.reason_id "
        "WHERE k.id = %s FOR UPDATE OF k"
    )


def case_for_update(*, pk: int) -> CancellationCase:
    """The case ``pk``, locked until the transaction ends, with its subscription (and the
    subscription's plan), customer and reason: one prepared statement (the case's every
    change takes this lock first; planning its joins cost PostgreSQL about 0.7 ms each
    time). Raises ``CancellationCase.DoesNotExist`` when there is no such case."""
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`: no FOR UPDATE OF
        return (
            CancellationCase.objects.select_for_update(of=("self",))
            .select_related("subscription__plan", "subscription__customer", "customer", "reason")
            .get(pk=pk)
        )
    row = prepared_row(_locked_case_statement(), [pk])
    if row is None:
        raise CancellationCase.DoesNotExist(f"no case {pk}")
    case, subscription, customer, plan, reason = instances_from_row(_LOCKED_CASE_MODELS, row)
    subscription.plan = plan
    if subscription.customer_id == customer.pk:
        subscription.customer = customer
    case.subscription, case.customer, case.reason = subscription, customer, reason
    return case


def open_case_for(*, subscription: Subscription) -> CancellationCase | None:
    # The offers page shows the case's reason: one query instead of two.
    return (
        CancellationCase.objects.filter(subscription=subscription, outcome=CaseOutcome.OPEN)
        .select_related("reason")
        .first()
    )


def latest_case_for(*, subscription: Subscription) -> CancellationCase | None:
    return (
        CancellationCase.objects.filter(subscription=subscription)
        .select_related("accepted_offer", "reason", "subscription__plan")
        .order_by("-opened_at", "-pk")
        .first()
    )


def current_offers(*, case: CancellationCase) -> QuerySet[Offer]:
    return case.offers.filter(withdrawn=False).order_by("position")


@functools.cache
def _offers_shown_statement() -> str:
    return (
        f"SELECT {_columns([('o', Offer)])} FROM {_table(Offer)} o "
        "WHERE o.case_id = %s AND NOT o.withdrawn ORDER BY o.position"
    )


def offers_shown(*, case: CancellationCase) -> list[Offer]:
    """``current_offers`` as a list, for the offers page: one statement built once per
    process, as ``flow_subscription``."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, _offers_shown_statement(), [case.pk])
        rows = cursor.fetchall()
    offers = [instance_from_row(Offer, list(row)) for row in rows]
    for offer in offers:
        offer.case = case
    return offers


# The calls the desk holds about a case: its "call me back" and an interview's follow-up.
CASE_CALL_SOURCES = (CallbackSource.CANCELLATION, CallbackSource.FOLLOW_UP)


def pending_callback(*, case: CancellationCase) -> CallbackRequest | None:
    return desk_selectors.pending_callback(sources=CASE_CALL_SOURCES, source_ref=case.pk)


def case_callbacks(*, case: CancellationCase):
    return desk_selectors.callbacks_for(sources=CASE_CALL_SOURCES, source_ref=case.pk)


def reason_of_called_case(*, callback: CallbackRequest) -> int | None:
    """The exit reason of the case a queued call is about (to pre-fill the interview)."""
    if callback.source not in CASE_CALL_SOURCES or callback.source_ref is None:
        return None
    return (
        CancellationCase.objects.filter(pk=callback.source_ref)
        .values_list("reason_id", flat=True)
        .first()
    )


def case_detail(*, pk: int) -> CancellationCase:
    return (
        CancellationCase.objects.select_related("subscription", "customer", "reason")
        .prefetch_related("offers")
        .get(pk=pk)
    )
