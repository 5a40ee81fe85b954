"""A year of cancellation cases for the demo, consistent with the seeded ledger.

Paused subscriptions were saved by a pause, recent cancellations declined their offers,
some customers were saved by a cheaper plan or a loyalty bonus (their ledger shows it) and
some left the flow half-way (abandoned).
"""

from datetime import timedelta
from decimal import Decimal

from cancellations.defaults import RULES
from demo.writer import json_text, next_id, reset_sequences, write_rows

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
REASONS_FOR_SAVE = {
    "pause": ["moving", "illness", "lost_job", "family_change", "new_job"],
    "downgrade": ["price", "competitor_price", "no_need"],
    "loyalty_bonus": ["no_need", "price"],
}
TEXTS = {
    "price": ["Too expensive for what I use", "Prices went up again", ""],
    "competitor_features": ["They have an app that works offline", ""],
    "expectations": ["Thought it would include more", ""],
    "missing_feature": ["No family sharing", "Cannot download", ""],
    "poor_service": ["Waited 40 minutes on the phone", "Billing mistake twice", ""],
    "other": ["Just want a break from everything", ""],
}
COMPETITORS = ["Streamly", "Nordflix", "Bokhylla", "Lyssna+"]
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


def _offers(reason: str, plan: dict) -> list[tuple[str, str]]:
    """(rule name, kind) of the default rules that fit, as the offer engine would pick them."""
    chosen: list[tuple[str, str]] = []
    for name, kind, codes, _priority, _extra in sorted(RULES, key=lambda r: -r[3]):
        if len(chosen) == 2 or any(k == kind for _, k in chosen):
            continue
        if codes and reason not in codes:
            continue
        if kind == "loyalty_bonus" and plan["tenure"] < 36:
            continue
        if kind == "discount" and plan["tenure"] < 6:
            continue
        if kind == "downgrade" and not plan["has_cheaper"]:
            continue
        chosen.append((name, kind))
    return chosen


def _offer_terms(kind: str, plan: dict) -> tuple[dict, Decimal]:
    amount = plan["amount"]
    if kind == "pause":
        return {"max_months": 3}, amount * 3
    if kind == "downgrade":
        saving = plan.get("saving") or Decimal("80.00")
        return {"monthly_saving": str(saving)}, saving * 12
    if kind == "loyalty_bonus":
        return {"bonus": "free_month", "amount": str(amount), "years": plan["tenure"] // 12}, amount
    if kind == "discount":
        return {"percent": 25, "months": 3}, (amount * Decimal("0.75")).quantize(Decimal("0.01"))
    return {}, Decimal("50.00")


def seed_cases(ctx) -> None:
    from django.apps import apps

    from cancellations.defaults import ensure_defaults
    from cancellations.models import ExitReason, OfferRule

    ensure_defaults(apps)
    reason_ids = dict(ExitReason.objects.values_list("code", "pk"))
    rule_ids = dict(OfferRule.objects.values_list("name", "pk"))
    shuffled = [pk for code, pk in reason_ids.items() if code != "other"]
    codes, weights = list(REASON_WEIGHTS), list(REASON_WEIGHTS.values())
    rng = ctx.rng
    case_id = first_case = next_id("cancellations_cancellationcase")
    offer_id = next_id("cancellations_offer")
    step_id = next_id("cancellations_casestep")
    cases, offers, steps = [], [], []

    def step(case, kind, at, **data):
        nonlocal step_id
        steps.append((step_id, case, kind, at, "customer", json_text(data)))
        step_id += 1

    for plan in ctx.case_plans:
        outcome, kind, opened = plan["outcome"], plan["kind"], plan["at"]
        reason = rng.choice(REASONS_FOR_SAVE[kind]) if kind else rng.choices(codes, weights)[0]
        chose = outcome != "abandoned" or rng.random() < 0.6
        reason_at = opened + timedelta(seconds=rng.randrange(10, 90)) if chose else None
        proposals = _offers(reason, plan) if chose else []
        decided = reason_at + timedelta(seconds=rng.randrange(20, 240)) if chose else None
        if outcome == "abandoned":
            decided = opened + timedelta(hours=24, minutes=rng.randrange(15))
        accepted = None
        step(case_id, "opened", opened, channel="web")
        if chose:
            step(case_id, "reason_chosen", reason_at, reason=reason)
        for position, (rule_name, offer_kind) in enumerate(proposals, start=1):
            parameters, cost = _offer_terms(offer_kind, plan)
            taken = outcome == "saved" and offer_kind == kind
            if taken:
                accepted = offer_id
            offers.append(
                (
                    offer_id,
                    case_id,
                    rule_ids.get(rule_name),
                    offer_kind,
                    position,
                    json_text(parameters),
                    cost,
                    reason_at,
                    False,
                    decided if taken else None,
                    cost if taken else None,
                    "{}",
                )
            )
            offer_id += 1
        if proposals:
            step(case_id, "offers_shown", reason_at, offers=[k for _, k in proposals])
        final = {"saved": "offer_accepted", "cancelled": "declined", "abandoned": "abandoned"}
        step(case_id, final[outcome], decided, **({"offer": kind} if kind else {}))
        competitor = rng.choice(COMPETITORS) if reason.startswith("competitor") else ""
        cases.append(
            (
                case_id,
                plan["subscription"],
                plan["customer"],
                "web",
                outcome,
                plan["locale"],
                reason_ids.get(reason) if chose else None,
                rng.choice(TEXTS.get(reason, [""])) if chose else "",
                competitor,
                "",  # the churn group is an agent's judgment; none on the web
                json_text(rng.sample(shuffled, len(shuffled))),
                plan["plan"],
                plan["amount"],
                "SEK",
                plan["tenure"],
                opened,
                reason_at,
                reason_at if proposals else None,
                decided,
                accepted,
                plan.get("end"),
                "",
            )
        )
        case_id += 1
    write_rows("cancellations_cancellationcase", CASE_COLUMNS, cases)
    write_rows("cancellations_offer", OFFER_COLUMNS, offers)
    write_rows("cancellations_casestep", STEP_COLUMNS, steps)
    reset_sequences(
        "cancellations_cancellationcase", "cancellations_offer", "cancellations_casestep"
    )
    ctx.counts["cancellation cases"] = case_id - first_case
