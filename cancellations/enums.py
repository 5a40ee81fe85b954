from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ChurnGroup(models.TextChoices):
    """The five groups of lost customers (see the domain brief)."""

    DELIBERATELY_PUSHED = "deliberately_pushed", _("Deliberately pushed away")
    UNINTENTIONALLY_PUSHED = "unintentionally_pushed", _("Unintentionally pushed away")
    PULLED_AWAY = "pulled_away", _("Pulled away")
    BOUGHT_AWAY = "bought_away", _("Bought away")
    SELF_SWITCHER = "self_switcher", _("Self-switcher")


class ReasonCategory(models.TextChoices):
    """What kind of reason it is; the win-back churn-group rules read this."""

    LIFE_CHANGE = "life_change", "Life change"
    PRICE = "price", "Price"
    COMPETITOR_PRICE = "competitor_price", "Competitor: price"
    COMPETITOR_FEATURES = "competitor_features", "Competitor: features"
    EXPECTATIONS = "expectations", "Expectations or missing feature"
    SERVICE = "service", "Service"
    NO_NEED = "no_need", "No longer needed"
    OTHER = "other", "Other"


class CaseChannel(models.TextChoices):
    WEB = "web", "Web"
    PHONE = "phone", "Phone"
    API = "api", "API"


class CaseOutcome(models.TextChoices):
    OPEN = "open", "Open"
    SAVED = "saved", "Saved"
    CANCELLED = "cancelled", "Cancelled"
    ABANDONED = "abandoned", "Abandoned"


class OfferKind(models.TextChoices):
    PAUSE = "pause", pgettext_lazy("offer kind", "Pause")
    DOWNGRADE = "downgrade", pgettext_lazy("offer kind", "Cheaper plan")
    LOYALTY_BONUS = "loyalty_bonus", pgettext_lazy("offer kind", "Loyalty bonus")
    DISCOUNT = "discount", pgettext_lazy("offer kind", "Discount")
    CALLBACK = "callback", pgettext_lazy("offer kind", "Call me back")


class BonusKind(models.TextChoices):
    FREE_MONTH = "free_month", "A free month"
    CREDIT = "credit", "A credit"


class CaseStepKind(models.TextChoices):
    OPENED = "opened", "Opened"
    RESUMED = "resumed", "Resumed"
    REASON_CHOSEN = "reason_chosen", "Reason chosen"
    OFFERS_SHOWN = "offers_shown", "Offers shown"
    OFFER_ACCEPTED = "offer_accepted", "Offer accepted"
    CALLBACK_REQUESTED = "callback_requested", "Callback requested"
    DECLINED = "declined", "Declined offers and cancelled"
    FOLLOW_UP = "follow_up", "Follow-up planned"
    ABANDONED = "abandoned", "Abandoned"
    WITHDRAWN = "withdrawn", "Cancellation withdrawn"
    NOTE = "note", "Note"


class InterviewOutcome(models.TextChoices):
    """How a phone exit interview ended."""

    SAVED = "saved", "Saved: the customer accepted an offer"
    CANCELLED = "cancelled", "Cancelled at the end of the paid period"
    CANCELLED_NOW = "cancelled_now", "Cancelled immediately"
    FOLLOW_UP = "follow_up", "Undecided: call again"
