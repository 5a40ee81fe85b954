from decimal import Decimal

from django import template
from django.utils import formats, translation

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
