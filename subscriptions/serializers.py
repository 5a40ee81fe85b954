from rest_framework import serializers

from core.api_fields import (
    AmountField,
    BlankAsNullChoiceField,
    CountryField,
    PlausibleDateField,
    PlausibleDateTimeField,
    StrictJSONTypes,
)
from subscriptions.enums import CancelledBy, ConsentSource, Locale, SubscriptionStatus
from subscriptions.models import Customer, Plan, Subscription


class CustomerSerializer(StrictJSONTypes, serializers.ModelSerializer):
    locale = serializers.ChoiceField(choices=Locale.choices, default=Locale.EN)
    country = CountryField(required=False, help_text="ISO 3166-1 alpha-2, e.g. SE, or blank.")
    customer_since = PlausibleDateField(
        help_text="When they became a customer: a date from 1900 to the end of next year."
    )
    marketing_consent_source = BlankAsNullChoiceField(
        choices=ConsentSource.choices,
        read_only=True,
        help_text="Where the consent (or its withdrawal) was recorded; null when never.",
    )

    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "email",
            "phone",
            "locale",
            "country",
            "customer_since",
            "marketing_consent",
            "marketing_consent_at",
            "marketing_consent_source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "external_id",
            "marketing_consent_at",
            "marketing_consent_source",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"marketing_consent": {"required": False}}


class SubscriptionSerializer(StrictJSONTypes, serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Customer.objects.all()
    )
    plan = serializers.SlugRelatedField(slug_field="code", queryset=Plan.objects.all())
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices, required=False)
    started_at = PlausibleDateTimeField(required=False)
    current_period_end = PlausibleDateTimeField(required=False)
    paused_until = PlausibleDateTimeField(required=False, allow_null=True)
    cancel_at = PlausibleDateTimeField(required=False, allow_null=True)
    cancelled_at = PlausibleDateTimeField(required=False, allow_null=True)
    monthly_amount = AmountField(required=False)
    cancelled_by = BlankAsNullChoiceField(
        choices=CancelledBy.choices,
        required=False,
        help_text="Who ended it, with the status cancelled or cancel_pending: the customer "
        "(the default) or the company, for non-payment or misuse (win-back then treats them "
        "as deliberately pushed away).",
    )

    class Meta:
        model = Subscription
        fields = [
            "external_id",
            "customer",
            "plan",
            "status",
            "started_at",
            "current_period_end",
            "paused_until",
            "cancel_at",
            "cancelled_at",
            "cancelled_by",
            "monthly_amount",
            "currency",
            "discount_percent",
            "discount_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "external_id",
            "currency",
            "discount_percent",
            "discount_until",
            "created_at",
            "updated_at",
        ]
