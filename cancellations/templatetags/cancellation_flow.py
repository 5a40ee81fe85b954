"""Parts of the flow's pages made without a template per item: the offers' texts, rendered
once per language and offer terms in each process (they depend on the offer's kind,
parameters and currency, never on who sees them), and the entry page's reason buttons."""

import functools
import json

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

FRAGMENTS = {
    "title": "cancellations/_offer_title.html",
    "text": "cancellations/_offer_text.html",
}


@functools.lru_cache(maxsize=1024)
def _fragment(name: str, language: str, kind: str, parameters: str, currency: str) -> str:
    offer = {"kind": kind, "parameters": json.loads(parameters)}
    with translation.override(language):
        return render_to_string(FRAGMENTS[name], {"offer": offer, "currency": currency})


@register.simple_tag
def offer_fragment(name: str, offer, currency: str = "") -> str:
    """``cancellations/_offer_<name>.html`` for this offer, in the active language."""
    if settings.DEBUG:  # templates may change while the process runs
        _fragment.cache_clear()
    language = translation.get_language() or settings.LANGUAGE_CODE
    parameters = json.dumps(offer.parameters, sort_keys=True)
    return mark_safe(_fragment(name, language, offer.kind, parameters, currency))  # noqa: S308 - rendered with autoescape


@register.simple_tag
def reason_buttons(reasons, case=None) -> str:
    """One submit button per reason, in the active language; the case's reason pressed."""
    language = (translation.get_language() or settings.LANGUAGE_CODE)[:2]
    chosen = case.reason_id if case else None
    return mark_safe(  # noqa: S308 - every part escaped by format_html
        "".join(
            format_html(
                '\n        <li><button type="submit" name="reason" value="{}"{}>{}</button></li>'
                "\n        ",
                reason.pk,
                mark_safe(' aria-pressed="true"') if reason.pk == chosen else "",
                reason.label_for(language),
            )
            for reason in reasons
        )
    )
