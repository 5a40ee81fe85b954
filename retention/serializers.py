from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cancellations.enums import CaseChannel, ChurnGroup
from retention.forms import MAX_DAYS
from subscriptions.models import Plan
from winback.models import Campaign


class SummaryQuerySerializer(serializers.Serializer):
    """``from`` and ``to`` are the period's first and last day (inclusive)."""

    channel = serializers.ChoiceField(choices=CaseChannel.choices, required=False)
    plan = serializers.IntegerField(required=False, min_value=1)
    churn_group = serializers.ChoiceField(choices=ChurnGroup.choices, required=False)
    campaign = serializers.IntegerField(required=False, min_value=1)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(help_text="First day, YYYY-MM-DD.")
        fields["to"] = serializers.DateField(help_text="Last day, YYYY-MM-DD (inclusive).")
        return fields

    def validate_plan(self, value: int) -> int:
        if not Plan.objects.filter(pk=value).exists():
            raise serializers.ValidationError(_("No plan has this id."), code="does_not_exist")
        return value

    def validate_campaign(self, value: int) -> int:
        if not Campaign.objects.filter(pk=value).exists():
            raise serializers.ValidationError(_("No campaign has this id."), code="does_not_exist")
        return value

    def validate(self, attrs):
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": ["The period must start before it ends."]})
        if (attrs["to"] - attrs["from"]).days > MAX_DAYS:
            raise serializers.ValidationError({"from": ["Choose a period of at most three years."]})
        return attrs


class RateField(serializers.FloatField):
    """A share between 0 and 1, or null when there is nothing to divide."""


class CaseFiguresSerializer(serializers.Serializer):
    saved = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    save_rate = RateField(allow_null=True)
    web_save_rate = RateField(allow_null=True)
    phone_save_rate = RateField(allow_null=True)
    api_save_rate = RateField(allow_null=True)
    deflection_rate = RateField(allow_null=True)
    verified_30 = RateField(allow_null=True)
    verified_60 = RateField(allow_null=True)
    verified_90 = RateField(allow_null=True)
    revenue_kept_monthly = serializers.DecimalField(max_digits=16, decimal_places=2)
    revenue_kept_annual = serializers.DecimalField(max_digits=16, decimal_places=2)
    offer_cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost_per_save = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class WinbackFiguresSerializer(serializers.Serializer):
    contacted = serializers.IntegerField(
        help_text="Lost customers contacted for the first time by a campaign in the period."
    )
    hits = serializers.IntegerField(
        help_text="Of those, the people who came back through that campaign (the hit rate's "
        "numerator)."
    )
    contacts = serializers.IntegerField(help_text="Emails sent and calls made.")
    comebacks = serializers.IntegerField(
        help_text="Comebacks dated in the period attributed to a contact."
    )
    organic = serializers.IntegerField(help_text="Comebacks without a contact.")
    hit_rate = RateField(allow_null=True, help_text="hits ÷ contacted.")
    value = serializers.DecimalField(max_digits=16, decimal_places=2)
    lifetime_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    roi = serializers.FloatField(allow_null=True)
    cost_per_comeback = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class BreakdownRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    saved = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    save_rate = RateField(allow_null=True)


class UpliftSerializer(serializers.Serializer):
    enough_data = serializers.BooleanField()
    difference = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    contacted_rate = RateField(allow_null=True)
    holdout_rate = RateField(allow_null=True)


class WinbackRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    contacted = serializers.IntegerField()
    comebacks = serializers.IntegerField()
    hit_rate = RateField(allow_null=True)
    holdout = serializers.IntegerField()
    holdout_back = serializers.IntegerField()
    uplift = UpliftSerializer()


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class SummarySerializer(serializers.Serializer):
    period = PeriodSerializer()
    previous_period = PeriodSerializer()
    cases = CaseFiguresSerializer()
    previous_cases = CaseFiguresSerializer()
    winback = WinbackFiguresSerializer()
    previous_winback = WinbackFiguresSerializer()
    breakdowns = serializers.DictField(child=BreakdownRowSerializer(many=True))
    winback_breakdowns = serializers.DictField(child=WinbackRowSerializer(many=True))
    funnel = serializers.DictField(child=serializers.IntegerField())
