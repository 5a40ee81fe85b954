from rest_framework import serializers

from subscriptions.enums import Locale, SubscriptionStatus
from subscriptions.models import Customer, Plan, Subscription


class CustomerSerializer(serializers.ModelSerializer):
    locale = serializers.ChoiceField(choices=Locale.choices, default=Locale.EN)

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

    def validate_country(self, value: str) -> str:
        if value and (len(value) != 2 or not value.isalpha()):
            raise serializers.ValidationError("Use a two-letter ISO 3166 country code, e.g. SE.")
        return value.upper()


class SubscriptionSerializer(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Customer.objects.all()
    )
    plan = serializers.SlugRelatedField(slug_field="code", queryset=Plan.objects.all())
    status = serializers.ChoiceField(choices=SubscriptionStatus.choices, required=False)
    started_at = serializers.DateTimeField(required=False)
    current_period_end = serializers.DateTimeField(required=False)
    monthly_amount = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False
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
