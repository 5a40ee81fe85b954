"""The offers page's texts, rendered once per language and offer terms in each process: they
depend on the offer's kind, parameters and currency, never on who sees them."""

import functools
import json

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
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
