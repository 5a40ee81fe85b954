"""Every figure the dashboard shows, defined once: its name, its formula in words and the
population it counts.

The page's definitions, the API's documentation and the README are rendered from or checked
against this list (``tests/retention/test_definitions.py``); the SQL that computes each
figure lives in ``retention.scan`` (the reference) and ``retention.rollups`` (what the page
reads), and the known-answer tests hold them to these words.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Figure:
    key: str
    name: Promise
    formula: Promise
    population: Promise


FIGURES: tuple[Figure, ...] = (
    Figure(
        "save_rate",
        _("Save rate"),
        _("saved ÷ (saved + cancelled); web and phone together and apart"),
        _(
            "cancellation cases whose outcome was decided in the period (local day); "
            "abandoned cases are left out and counted on their own"
        ),
    ),
    Figure(
        "deflection_rate",
        _("Deflection rate"),
        _("(saved + abandoned) ÷ (saved + cancelled + abandoned)"),
        _("cancellation cases decided in the period, abandoned ones included"),
    ),
    Figure(
        "verified_save_rate",
        _("Billing-verified save rate"),
        _(
            "saves whose subscription asked for no cancellation and was not cancelled within "
            "30 / 60 / 90 days of the save ÷ those saves"
        ),
        _(
            "saves decided in the period and at least 30 / 60 / 90 days before today (a save "
            "made on day N counts once day N + 30 has begun)"
        ),
    ),
    Figure(
        "revenue_kept",
        _("Revenue kept"),
        _(
            "per year: 12 × the monthly amount of the saved subscriptions − what their accepted "
            "offers cost over the first 12 months; per month: that ÷ 12"
        ),
        _("saves decided in the period"),
    ),
    Figure(
        "web_funnel",
        _("Web funnel"),
        _(
            "how far self-service web cases got: opened, reason chosen or cancelled without a "
            "reason, offer shown, offer accepted, declined and cancelled, abandoned, still open"
        ),
        _(
            "web cases the customer opened in the period (not through a link staff made). A "
            "case opens at the customer's first click on the first page — a reason, or "
            "cancelling without one — never when the link is only viewed, so mail scanners "
            "and link previews are not counted as opened, abandoned or deflected"
        ),
    ),
    Figure(
        "hit_rate",
        _("Hit rate"),
        _(
            "people among them who came back through that campaign ÷ lost customers "
            "contacted for the first time by a campaign"
        ),
        _(
            "first contacts made in the period (someone in two campaigns counts once in "
            "each); a comeback counts whenever it happens, so the rate of a recent period "
            "still grows. The campaign, churn group, channel and message tables count the "
            "same people and add up to it"
        ),
    ),
    Figure(
        "comebacks",
        _("Comebacks"),
        _(
            "lost customers who came back in the period, attributed to the last contact "
            "within the attribution window; the others are organic"
        ),
        _(
            "comebacks dated in the period, whenever the person was contacted: the basis of "
            "value, cost per customer won back and ROI, not of the hit rate"
        ),
    ),
    Figure(
        "contacts",
        _("Contacts made"),
        _("emails sent and calls made by campaigns, every attempt"),
        _(
            "contacts made in the period; the table by attempt counts these, so its total is "
            "contacts, not people, and its comebacks are those attributed to that contact"
        ),
    ),
    Figure(
        "uplift",
        _("Uplift"),
        _(
            "share of the contacted who came back after the first contact − share of the "
            "holdout (never contacted) who came back after their planned first contact, with "
            "a confidence interval (95%)"
        ),
        _(
            "first contacts and holdout members planned in the period; shown once both groups "
            "have enough people"
        ),
    ),
    Figure(
        "winback_value",
        _("Value of win-back sales"),
        _("12 × the monthly amount − the come-back offer, per comeback"),
        _("attributed comebacks dated in the period"),
    ),
    Figure(
        "lifetime_value",
        _("Lifetime value"),
        _(
            "the monthly amount for every started month since coming back, until now or until "
            "they left again"
        ),
        _("attributed comebacks dated in the period"),
    ),
    Figure(
        "campaign_cost",
        _("Campaign cost and ROI"),
        _(
            "cost: come-back offers + every email and call at the configured cost per "
            "contact; ROI: (value − cost) ÷ cost"
        ),
        _("contacts made and attributed comebacks dated in the period"),
    ),
    Figure(
        "cost_per_kept",
        _("Cost per customer kept"),
        _(
            "(revenue forgone on the saves' accepted offers over their first 12 months + every "
            "phone case's call at the cost per call) ÷ saves; a callback offer is charged at "
            "the callback cost"
        ),
        _("cases decided in the period"),
    ),
    Figure(
        "cost_per_won_back",
        _("Cost per customer won back"),
        _(
            "(revenue forgone on the come-back offers over their first 12 months + every email "
            "and call at the cost per contact) ÷ attributed comebacks"
        ),
        _("contacts made and attributed comebacks dated in the period"),
    ),
)

BY_KEY: dict[str, Figure] = {figure.key: figure for figure in FIGURES}


def as_text() -> str:
    """The definitions as plain text (the API's documentation)."""
    return "\n".join(
        f"* **{figure.name}** = {figure.formula}. Counted over: {figure.population}."
        for figure in FIGURES
    )
