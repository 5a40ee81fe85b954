from django.db import models
from django.utils.translation import gettext_lazy as _


class CallbackStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    NO_ANSWER = "no_answer", "No answer"


LIVE = (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS)


class CallbackSource(models.TextChoices):
    """Who asked for the call. Each source's app registers how its call is logged
    (``desk.registry``)."""

    CANCELLATION = "cancellation", "Cancellation flow"
    FOLLOW_UP = "follow_up", "Exit interview follow-up"
    WINBACK = "winback", "Win-back outreach"


class CallbackWindow(models.TextChoices):
    MORNING = "morning", _("Morning (9–12)")  # noqa: RUF001
    AFTERNOON = "afternoon", _("Afternoon (12–16)")  # noqa: RUF001
    EVENING = "evening", _("Early evening (16–19)")  # noqa: RUF001
