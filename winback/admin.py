from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.urls import path

from core.errors import TackError
from subscriptions.admin import ReadOnlyAdminMixin
from winback import admin_views, segmentation, services
from winback.enums import ChurnGroup, OutreachChannel, OutreachStatus
from winback.messages import MessageTemplateError, compile_message
from winback.models import Campaign, Comeback, LostCustomer, Outreach, Suppression


class AttractivenessFilter(admin.SimpleListFilter):
    title = "win-back attractiveness"
    parameter_name = "attractiveness"
    BANDS = {"75": (75, 100), "50": (50, 74), "25": (25, 49), "0": (0, 24)}

    def lookups(self, request, model_admin):
        return [(key, f"{low}–{high}") for key, (low, high) in self.BANDS.items()]  # noqa: RUF001

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        return queryset.filter(attractiveness__gte=band[0], attractiveness__lte=band[1])


class CameBackFilter(admin.SimpleListFilter):
    title = "came back"
    parameter_name = "came_back"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(came_back_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(came_back_at__isnull=True)
        return queryset


def _resegment_action(group: ChurnGroup):
    def action(modeladmin, request, queryset):
        count = segmentation.lost_customers_resegment(queryset=queryset, churn_group=group.value)
        modeladmin.message_user(request, f"{count} lost customers moved to “{group.label}”.")

    action.__name__ = f"resegment_{group.value}"
    action.short_description = f"Re-segment as: {group.label}"
    action.allowed_permissions = ("change",)
    return action


@admin.register(LostCustomer)
class LostCustomerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "customer",
        "churn_group",
        "churn_group_source",
        "attractiveness",
        "monthly_value",
        "tenure_months",
        "reason",
        "left_at",
        "came_back_at",
    ]
    list_filter = [
        "churn_group",
        "churn_group_source",
        AttractivenessFilter,
        CameBackFilter,
        "left_at",
        "reason",
    ]
    search_fields = ["customer__name", "customer__email", "customer__external_id"]
    ordering = ["-attractiveness", "-left_at"]
    list_select_related = ["customer", "reason"]
    date_hierarchy = "left_at"
    actions = [
        *(_resegment_action(group) for group in ChurnGroup),
        "follow_ordinary_rules",
        "recompute_all",
    ]

    def has_change_permission(self, request, obj=None):
        # The change page stays read-only; the permission only unlocks the bulk actions.
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(
        description="Forget the manager's group (follow the ordinary order)", permissions=["change"]
    )
    def follow_ordinary_rules(self, request, queryset):
        count = segmentation.lost_customers_release_manager_groups(queryset=queryset)
        self.message_user(request, f"{count} lost customers re-segmented by the ordinary order.")

    @admin.action(
        description="Record, segment and score all lost customers now", permissions=["change"]
    )
    def recompute_all(self, request, queryset):
        result = services.winback_refresh()
        self.message_user(request, ", ".join(f"{v} {k}" for k, v in result.items()))


class CampaignForm(forms.ModelForm):
    churn_groups = forms.MultipleChoiceField(
        choices=ChurnGroup.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Campaign
        fields = [f.name for f in Campaign._meta.fields if f.name not in ("id", "created_at")]

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if name.startswith(("subject_", "body_")) and value:
                try:
                    compile_message(value)
                except MessageTemplateError as exc:
                    self.add_error(name, f"This message does not compile: {exc}")
        groups = cleaned.get("churn_groups") or []
        if ChurnGroup.DELIBERATELY_PUSHED in groups and not cleaned.get(
            "include_deliberately_pushed"
        ):
            self.add_error(
                "include_deliberately_pushed",
                "Tick this to contact deliberately pushed-away customers, or untick that group.",
            )
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "active",
        "channel",
        "timing",
        "first_contact_days",
        "max_attempts",
        "min_days_between",
        "holdout_percent",
        "offer_kind",
    ]
    list_filter = ["active", "channel", "consent_basis"]
    fieldsets = [
        (None, {"fields": ["name", "active", "starts_on", "ends_on"]}),
        (
            "Audience",
            {
                "fields": [
                    "churn_groups",
                    "include_deliberately_pushed",
                    "min_attractiveness",
                    "max_months_after_leaving",
                    "consent_basis",
                    "holdout_percent",
                ]
            },
        ),
        (
            "When and how often",
            {
                "fields": [
                    "timing",
                    "first_contact_days",
                    "contract_months",
                    "max_attempts",
                    "min_days_between",
                    "channel",
                ]
            },
        ),
        ("Come-back offer", {"fields": ["offer_kind", "offer_percent", "offer_months"]}),
        (
            "What has improved since they left",
            {
                "fields": [
                    "improvements_en",
                    "improvements_sv",
                    "improvements_da",
                    "improvements_nb",
                ]
            },
        ),
        (
            "Message",
            {
                "description": "Subject and message are templates. They may use {{ name }}, "
                "{{ first_name }}, {{ tenure_years }}, {{ tenure_months }}, {{ reason }}, "
                "{{ improvements }}, {{ offer }} and {{ company }}. The come-back button and the "
                "unsubscribe link are added below the message. An empty language uses English.",
                "fields": [
                    "subject_en",
                    "body_en",
                    "subject_sv",
                    "body_sv",
                    "subject_da",
                    "body_da",
                    "subject_nb",
                    "body_nb",
                ],
            },
        ),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # outreach refers to it; deactivate instead


@admin.register(Outreach)
class OutreachAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "customer",
        "campaign",
        "attempt",
        "channel",
        "due_at",
        "status",
        "skip_reason",
        "contacted_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "campaign", "skip_reason"]
    search_fields = ["customer__name", "customer__email", "customer__external_id"]
    list_select_related = ["customer", "campaign"]
    date_hierarchy = "due_at"
    actions = ["log_call_comes_back", "log_call_not_interested"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "call/<int:outreach_id>/",
                site.admin_view(
                    lambda request, outreach_id: admin_views.call(request, site, self, outreach_id)
                ),
                name="winback_outreach_call",
            ),
            path(
                "call/queue/<int:callback_id>/",
                site.admin_view(
                    lambda request, callback_id: admin_views.call_for_callback(
                        request, site, self, callback_id
                    )
                ),
                name="winback_outreach_call_for_callback",
            ),
            *super().get_urls(),
        ]

    def has_log_call_permission(self, request):
        return request.user.has_perm("winback.log_winback_call")

    def _log_calls(self, request, queryset, *, comes_back: bool):
        calls = queryset.filter(channel=OutreachChannel.PHONE).filter(
            Q(status=OutreachStatus.QUEUED) | Q(status=OutreachStatus.SENT)
        )
        logged = 0
        for outreach in calls:
            try:
                services.outreach_log_call(
                    outreach=outreach, agent=request.user, comes_back=comes_back
                )
                logged += 1
            except TackError as error:
                self.message_user(request, f"{outreach}: {error.message}", messages.WARNING)
        self.message_user(request, f"{logged} win-back calls logged.")

    @admin.action(description="Log call: the customer comes back", permissions=["log_call"])
    def log_call_comes_back(self, request, queryset):
        self._log_calls(request, queryset, comes_back=True)

    @admin.action(description="Log call: not interested", permissions=["log_call"])
    def log_call_not_interested(self, request, queryset):
        self._log_calls(request, queryset, comes_back=False)


@admin.register(Comeback)
class ComebackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "customer",
        "at",
        "campaign",
        "channel",
        "monthly_amount",
        "offer_cost",
        "value",
    ]
    list_filter = ["channel", "campaign", ("outreach", admin.EmptyFieldListFilter)]
    list_select_related = ["customer", "campaign"]
    date_hierarchy = "at"


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "source", "created_at"]
    list_filter = ["source"]
    search_fields = ["customer__name", "customer__email"]
