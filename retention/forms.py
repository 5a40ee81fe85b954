from datetime import date, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cancellations.enums import CaseChannel, ChurnGroup
from retention.selectors import Filters, VoiceFilters

MAX_DAYS = 3 * 366


PRESETS = {
    "30d": _("Last 30 days"),
    "quarter": _("This quarter"),
    "12m": _("Last 12 months"),
    "ytd": _("Year to date"),
}


def preset_range(name: str, today: date) -> tuple[date, date]:
    """A preset's first and last day (inclusive), ending today."""
    if name == "quarter":
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), today
    if name == "12m":  # this month so far and the eleven before it
        months = today.year * 12 + today.month - 1 - 11
        return date(months // 12, months % 12 + 1, 1), today
    if name == "ytd":
        return today.replace(month=1, day=1), today
    return today - timedelta(days=29), today


class PeriodForm(forms.Form):
    """A preset range or chosen dates; without either, the last ``default_days`` days."""

    default_days = 30
    max_days: int | None = None

    range = forms.ChoiceField(
        label=_("Period"), choices=[("", _("Chosen dates")), *PRESETS.items()], required=False
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        if cleaned.get("range"):
            start, end = preset_range(cleaned["range"], today)
        else:
            end = cleaned.get("end") or today
            start = cleaned.get("start") or end - timedelta(days=self.default_days - 1)
        if start > end:
            raise forms.ValidationError(_("The period must start before it ends."))
        if self.max_days is not None and (end - start).days > self.max_days:
            raise forms.ValidationError(_("Choose a period of at most three years."))
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


class DashboardFilterForm(PeriodForm):
    max_days = MAX_DAYS

    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("All channels")), *CaseChannel.choices],
        required=False,
    )
    plan = forms.TypedChoiceField(label=_("Plan"), coerce=int, empty_value=None, required=False)
    churn_group = forms.ChoiceField(
        label=_("Churn group"),
        choices=[("", _("All churn groups")), *ChurnGroup.choices],
        required=False,
    )
    campaign = forms.TypedChoiceField(
        label=_("Campaign"), coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", _("All plans")), *choices["plan"]]
        self.fields["campaign"].choices = [("", _("All campaigns")), *choices["campaign"]]

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            start=data["start"],
            end=data["end"],
            channel=data.get("channel") or "",
            plan=data.get("plan"),
            churn_group=data.get("churn_group") or "",
            campaign=data.get("campaign"),
        )


def default_filters() -> Filters:
    today = timezone.localdate()
    return Filters(start=today - timedelta(days=29), end=today)


class VoiceFilterForm(PeriodForm):
    default_days = 90
    field_order = ["q", "range", "start", "end"]

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    reason = forms.TypedChoiceField(
        label=_("Exit reason"), coerce=int, empty_value=None, required=False
    )
    plan = forms.TypedChoiceField(label=_("Plan"), coerce=int, empty_value=None, required=False)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All channels")), *CaseChannel.choices], required=False
    )

    def __init__(self, *args, reasons: list, plans: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", _("All reasons")), *reasons]
        self.fields["plan"].choices = [("", _("All plans")), *plans]

    def filters(self) -> VoiceFilters:
        data = self.cleaned_data
        return VoiceFilters(
            start=data["start"],
            end=data["end"],
            reason=data.get("reason"),
            plan=data.get("plan"),
            channel=data.get("channel") or "",
            search=(data.get("q") or "").strip(),
        )


def default_voice_filters() -> VoiceFilters:
    today = timezone.localdate()
    return VoiceFilters(start=today - timedelta(days=89), end=today)
