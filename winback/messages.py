"""Win-back messages: a manager-written subject and body per language, in a shared layout.

Subject and body are templates in a sandbox: the variables ``{{ name }}``,
``{{ first_name }}``, ``{{ tenure_years }}``, ``{{ tenure_months }}``, ``{{ reason }}``,
``{{ improvements }}`` (the campaign's "what has improved since you left"), ``{{ offer }}``
(the come-back offer in words) and ``{{ company }}``, with the filters in
``MESSAGE_FILTERS`` (``{{ first_name|upper }}``, ``{{ reason|default:"…" }}``), and
nothing else: no tags (``include``, ``load``, ``extends``, ``ssi``, ``if`` …), no other
variable, no attribute lookups. The layout adds the come-back button and the unsubscribe link.
"""

from django.conf import settings
from django.template import Context, Engine, Library, Template, TemplateSyntaxError, defaultfilters
from django.template.base import FilterExpression, Variable, VariableNode
from django.utils import translation
from django.utils.translation import gettext, ngettext

from core.emails import render_email
from winback.enums import ComebackOfferKind
from winback.models import Campaign, LostCustomer

MESSAGE_VARIABLES = (
    "name",
    "first_name",
    "tenure_years",
    "tenure_months",
    "reason",
    "improvements",
    "offer",
    "company",
)


MESSAGE_FILTERS = ("default", "upper", "lower", "title", "capfirst", "pluralize")


class MessageTemplateError(ValueError):
    pass


def _sandbox() -> Engine:
    """An engine that loads no template and knows only the message filters: no tag at all."""
    library = Library()
    for name in MESSAGE_FILTERS:
        library.filter(name, getattr(defaultfilters, name))
    engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={})
    engine.template_builtins = [library]
    engine.template_libraries = {}
    return engine


SANDBOX = _sandbox()


def _check_variable(variable) -> None:
    if (
        isinstance(variable, Variable)
        and variable.lookups is not None
        and (variable.lookups[0] not in MESSAGE_VARIABLES or len(variable.lookups) > 1)
    ):
        names = ", ".join(f"{{{{ {name} }}}}" for name in MESSAGE_VARIABLES)
        raise MessageTemplateError(f"Unknown variable '{variable.var}': use {names}")


def _check_expression(expression: FilterExpression) -> None:
    _check_variable(expression.var)
    for _, arguments in expression.filters:
        for lookup, argument in arguments:
            if lookup:
                _check_variable(argument)


def offer_text(campaign: Campaign) -> str:
    """The come-back offer in the active language ('' when there is none)."""
    if campaign.offer_kind == ComebackOfferKind.DISCOUNT:
        return ngettext(
            "%(percent)d%% off for the first month",
            "%(percent)d%% off for the first %(months)d months",
            campaign.offer_months,
        ) % {"percent": campaign.offer_percent, "months": campaign.offer_months}
    if campaign.offer_kind == ComebackOfferKind.FREE_MONTH:
        return gettext("Your first month free")
    return ""


def compile_message(text: str) -> Template:
    """The message as a sandboxed template; MessageTemplateError names what is not allowed."""
    try:
        template = Template(text, engine=SANDBOX)
    except TemplateSyntaxError as exc:
        raise MessageTemplateError(str(exc)) from exc
    for node in template.nodelist:
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression)
    return template


def message_context(*, campaign: Campaign, lost: LostCustomer, language: str) -> dict:
    with translation.override(language):
        return {
            "name": lost.customer.name,
            "first_name": lost.customer.name.split(" ")[0],
            "tenure_years": lost.tenure_months // 12,
            "tenure_months": lost.tenure_months,
            "reason": lost.reason.label_for(language) if lost.reason else "",
            "improvements": campaign.text_for("improvements", language),
            "offer": offer_text(campaign),
            "company": settings.TACK_COMPANY_NAME,
        }


def render_outreach_email(
    *,
    campaign: Campaign,
    lost: LostCustomer,
    language: str,
    comeback_url: str,
    unsubscribe_url: str,
) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in ``language``."""
    context = message_context(campaign=campaign, lost=lost, language=language)
    plain = Context(context, autoescape=False)
    subject = compile_message(campaign.text_for("subject", language)).render(plain)
    body = compile_message(campaign.text_for("body", language)).render(plain).strip()
    _, text, html = render_email(
        "winback",
        {
            "subject": " ".join(subject.split()),
            "body": body,
            "offer": context["offer"],
            "comeback_url": comeback_url,
            "unsubscribe_url": unsubscribe_url,
            "customer": lost.customer,
        },
        language=language,
        subject=False,  # the campaign's own, rendered above
    )
    return " ".join(subject.split()), text, html
