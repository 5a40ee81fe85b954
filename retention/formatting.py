"""How the dashboard writes money, rates and its sentences, in the manager's language."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _


def money(value: Decimal | None, *, decimals: int = 0) -> str:
    """An amount with its currency and the active locale's separators ("SEK 8,913")."""
    if value is None:
        return ""
    value = Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    amount = number_format(value, decimals, use_l10n=True, force_grouping=True)
    return _("%(currency)s %(amount)s") % {
        "currency": settings.TACK_DEFAULT_CURRENCY,
        "amount": amount,
    }


def percent(value: float | None) -> str:
    if value is None:
        return ""
    return number_format(value * 100, 1, use_l10n=True) + "%"


def times(value: float) -> str:
    return number_format(value, 1, use_l10n=True)


def retain_vs_winback_sentence(figures: dict) -> str:
    """Which was cheaper in the period, how much, and the counts it rests on."""
    counts = _(
        "Counted over %(saves)s customers kept (phone cases: %(calls)s) and %(comebacks)s "
        "won back (emails and calls: %(contacts)s)."
    ) % {
        "saves": figures["saves"],
        "calls": figures["calls"],
        "comebacks": figures["comebacks"],
        "contacts": figures["contacts"],
    }
    kept, won = figures["cost_per_save"], figures["cost_per_comeback"]
    if not kept or not won:
        return _("Not enough to compare keeping with winning back in this period.") + " " + counts
    names = {"kept": money(kept), "won": money(won)}
    if won >= kept:
        sentence = _(
            "Keeping a customer cost %(kept)s; winning one back cost %(won)s, %(times)s× as much."
        ) % {**names, "times": times(float(won / kept))}
    else:
        sentence = _(
            "Keeping a customer cost %(kept)s; winning one back cost %(won)s, %(times)s× less."
        ) % {**names, "times": times(float(kept / won))}
    return sentence + " " + counts


def count(value: int) -> str:
    return number_format(value, 0, use_l10n=True, force_grouping=True)
