from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cancellations import selectors
from cancellations.enums import CaseChannel
from cancellations.models import CancellationCase, ExitReason, Offer
from core.api_fields import StrictJSONTypes
from desk.enums import CallbackWindow
from desk.models import CallbackRequest
from subscriptions.enums import Locale


class ExitReasonSerializer(serializers.ModelSerializer):
    labels = serializers.SerializerMethodField()
    prompts = serializers.SerializerMethodField()

    class Meta:
        model = ExitReason
        fields = [
            "code",
            "labels",
            "prompts",
            "category",
            "default_churn_group",
            "asks_competitor",
            "is_other",
            "order",
        ]

    def get_labels(self, reason) -> dict[str, str]:
        return {code: reason.label_for(code) for code in Locale.values}

    def get_prompts(self, reason) -> dict[str, str]:
        return {code: reason.prompt_for(code) for code in Locale.values}


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = [
            "id",
            "kind",
            "position",
            "parameters",
            "cost",
            "presented_at",
            "withdrawn",
            "accepted_at",
            "accepted_cost",
            "options",
        ]


class CallbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallbackRequest
        fields = ["id", "due_at", "window", "status"]


class CancellationCaseSerializer(serializers.ModelSerializer):
    subscription = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    customer = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    reason = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    offers = OfferSerializer(many=True, read_only=True)
    callbacks = serializers.SerializerMethodField()

    class Meta:
        model = CancellationCase
        fields = [
            "id",
            "subscription",
            "customer",
            "channel",
            "outcome",
            "language",
            "reason",
            "reason_text",
            "competitor",
            "monthly_amount",
            "currency",
            "tenure_months",
            "opened_at",
            "reason_at",
            "offers_shown_at",
            "decided_at",
            "accepted_offer",
            "cancel_effective_at",
            "withdrawn_at",
            "offers",
            "callbacks",
        ]

    @extend_schema_field(CallbackSerializer(many=True))
    def get_callbacks(self, case) -> list:
        return CallbackSerializer(selectors.case_callbacks(case=case), many=True).data


class CaseStartSerializer(StrictJSONTypes, serializers.Serializer):
    subscription = serializers.CharField(max_length=64, help_text="The subscription's external id.")
    reason = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ExitReason.objects.filter(active=True),
        help_text="An active exit reason's code (see /exit-reasons/).",
    )
    text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    competitor = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=CaseChannel.choices, default=CaseChannel.API)
    language = serializers.ChoiceField(choices=Locale.choices, required=False)


class OfferAcceptSerializer(StrictJSONTypes, serializers.Serializer):
    offer = serializers.IntegerField(help_text="The id of one of the case's offers.")
    months = serializers.IntegerField(
        min_value=1, max_value=3, required=False, help_text="For a pause: how many months."
    )
    callback_day = serializers.DateField(required=False, help_text="For a call back.")
    callback_window = serializers.ChoiceField(choices=CallbackWindow.choices, required=False)


class DeclineSerializer(StrictJSONTypes, serializers.Serializer):
    text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    immediately = serializers.BooleanField(
        default=False, help_text="End now instead of at the end of the paid period."
    )


class CancelLinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
