from django.contrib import admin

from subscriptions.models import Customer, Plan, Subscription, SubscriptionEvent


class ReadOnlyAdminMixin:
    """Rows written only by services: staff may look, not edit."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SubscriptionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Subscription
    fields = ["external_id", "plan", "status", "monthly_amount", "started_at", "cancel_at"]
    show_change_link = True
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "external_id", "email", "phone", "locale", "country", "customer_since"]
    list_filter = ["locale", "country", "marketing_consent"]
    search_fields = ["name", "email", "phone", "=external_id", "=subscriptions__external_id"]
    readonly_fields = [
        "external_id",
        "created_at",
        "updated_at",
        "marketing_consent_at",
        "marketing_consent_source",
    ]
    inlines = [SubscriptionInline]
    show_full_result_count = False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "monthly_price",
        "currency",
        "rank",
        "contract_months",
        "active",
    ]
    list_filter = ["active", "contract_months"]
    ordering = ["rank"]


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SubscriptionEvent
    fields = ["sequence", "created_at", "kind", "channel", "actor", "actor_label", "amount", "note"]
    ordering = ["-sequence"]
    extra = 0


# Admin actions on subscriptions that belong to the apps above (e.g. cancellations' "Create
# cancel links"): each registers its own in its AppConfig.ready, so no app patches this class.
SUBSCRIPTION_ACTIONS: list = []


def register_subscription_action(action) -> None:
    if action not in SUBSCRIPTION_ACTIONS:
        SUBSCRIPTION_ACTIONS.append(action)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "external_id",
        "customer",
        "plan",
        "status",
        "monthly_amount",
        "current_period_end",
    ]
    list_filter = ["status", "plan"]
    search_fields = [
        "=external_id",
        "customer__name",
        "customer__email",
        "customer__phone",
        "=customer__external_id",
    ]
    list_select_related = ["customer", "plan"]
    ordering = ["external_id"]
    inlines = [EventInline]
    actions = SUBSCRIPTION_ACTIONS  # the list the apps above register into

    def get_queryset(self, request):
        # The label (and the autocomplete's) names the customer and the plan.
        return super().get_queryset(request).select_related("customer", "plan")

    show_full_result_count = False
    raw_id_fields = ["customer"]


@admin.register(SubscriptionEvent)
class SubscriptionEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "subscription", "kind", "channel", "actor_label", "amount"]
    list_filter = ["kind", "channel"]
    list_select_related = ["subscription__customer", "subscription__plan"]
    date_hierarchy = "created_at"
    show_full_result_count = False
