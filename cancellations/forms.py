"""Staff forms (admin). Customer pages use plain HTML forms read by the views."""

import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from cancellations.enums import ChurnGroup, InterviewOutcome, OfferKind
from cancellations.models import CancellationCase, ExitReason
from subscriptions.models import Subscription

OUTCOME_CHOICES = InterviewOutcome.choices
SAVE_OFFER_CHOICES = [(k, label) for k, label in OfferKind.choices if k != OfferKind.CALLBACK]


class FindSubscriptionForm(forms.Form):
    subscription = forms.ModelChoiceField(
        queryset=Subscription.objects.all(),
        required=False,
        widget=AutocompleteSelect(CancellationCase._meta.get_field("subscription"), admin.site),
        label="Customer or subscription",
        help_text="Name, email, phone, customer or subscription id.",
    )


class ReasonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.label_en


class InterviewForm(forms.Form):
    # Any status: a resubmitted form must find its case after the subscription changed;
    # the service refuses to open a case for a subscription that is already ending.
    subscription = forms.ModelChoiceField(
        queryset=Subscription.objects.all(), widget=forms.HiddenInput
    )
    callback = forms.IntegerField(required=False, widget=forms.HiddenInput)
    submission_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    reason = ReasonChoiceField(
        queryset=ExitReason.objects.filter(active=True),
        label="Exit reason",
        empty_label=None,
        widget=forms.Select(attrs={"autofocus": True}),
    )
    churn_group = forms.ChoiceField(
        choices=[("", "The reason's default"), *list(ChurnGroup.choices)],
        required=False,
        label="Churn group (your judgment)",
    )
    competitor = forms.CharField(max_length=120, required=False, label="Competitor, if any")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )
    outcome = forms.ChoiceField(choices=OUTCOME_CHOICES, widget=forms.RadioSelect)
    offer_kind = forms.ChoiceField(
        choices=[("", "—"), *SAVE_OFFER_CHOICES], required=False, label="Offer accepted"
    )
    pause_months = forms.IntegerField(min_value=1, max_value=3, initial=1, required=False)
    follow_up_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Call again at",
    )
    call_minutes = forms.IntegerField(
        min_value=0, max_value=600, required=False, label="Call duration (minutes)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["submission_key"].initial = uuid.uuid4().hex

    def clean(self):
        data = super().clean()
        if data.get("outcome") == InterviewOutcome.SAVED and not data.get("offer_kind"):
            self.add_error("offer_kind", "Which offer did the customer accept?")
        if data.get("outcome") == InterviewOutcome.FOLLOW_UP and not data.get("follow_up_at"):
            self.add_error("follow_up_at", "When should we call again?")
        return data
