from datetime import timedelta

from django import forms
from django.utils import timezone

from cancellations.enums import CaseChannel, ChurnGroup
from retention.selectors import Filters

MAX_DAYS = 3 * 366


class DashboardFilterForm(forms.Form):
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = forms.ChoiceField(
        choices=[("", "All channels"), *CaseChannel.choices], required=False
    )
    plan = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    churn_group = forms.ChoiceField(
        choices=[("", "All churn groups"), *ChurnGroup.choices], required=False
    )
    campaign = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "All plans"), *choices["plan"]]
        self.fields["campaign"].choices = [("", "All campaigns"), *choices["campaign"]]

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        end = cleaned.get("end") or today
        start = cleaned.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError("The period must start before it ends.")
        if (end - start).days > MAX_DAYS:
            raise forms.ValidationError("Choose a period of at most three years.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

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
