import functools
from decimal import Decimal

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

NORDIC_KRONE = {"SEK", "NOK", "DKK"}


@register.filter
def money(amount, currency: str = "SEK") -> str:
    """179.00 SEK → "179,00 kr" in Swedish, Danish and Norwegian; "SEK 179.00" in English."""
    if amount in (None, ""):
        return ""
    value = Decimal(str(amount))
    places = 0 if value == value.to_integral_value() else 2
    number = formats.number_format(value, places, use_l10n=True, force_grouping=True)
    language = translation.get_language() or "en"
    if language[:2] in ("sv", "da", "nb", "no") and currency in NORDIC_KRONE:
        return f"{number}\u00a0kr"
    return f"{currency}\u00a0{number}"


@register.filter
def reason_label(reason) -> str:
    """An exit reason's label in the active language."""
    if not reason:
        return ""
    return reason.label_for((translation.get_language() or "en")[:2])


# The language switch of the customers' pages is the same for every customer but for the
# page's own path: rendered once per language and process, the path put in per request.
CURRENT_PATH = "tack-current-path-placeholder"


@functools.lru_cache(maxsize=len(settings.LANGUAGES) + 1)
def _language_switch(language: str) -> str:
    with translation.override(language):
        return render_to_string(
            "core/_languages.html",
            {"languages": settings.LANGUAGES, "current_path": CURRENT_PATH},
        )


@register.simple_tag
def language_switch(current_path: str) -> str:
    """``core/_languages.html`` for this page (links to it in every language)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    if settings.DEBUG:  # templates may change while the process runs
        _language_switch.cache_clear()
    return mark_safe(_language_switch(language).replace(CURRENT_PATH, escape(current_path)))  # noqa: S308 - escaped
