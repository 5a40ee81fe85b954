from django.contrib import admin, messages
from django.urls import path
from django.utils.html import format_html_join
from simple_history.admin import SimpleHistoryAdmin

from cancellations import admin_views, links
from cancellations.models import (
    CancellationCase,
    CaseStep,
    ExitReason,
    Offer,
    OfferRule,
)
from subscriptions.admin import ReadOnlyAdminMixin


@admin.register(ExitReason)
class ExitReasonAdmin(admin.ModelAdmin):
    list_display = ["label_en", "code", "category", "default_churn_group", "order", "active"]
    list_editable = ["order", "active"]
    list_filter = ["active", "category", "default_churn_group"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "category",
                    "default_churn_group",
                    "asks_competitor",
                    "is_other",
                    "order",
                    "active",
                ]
            },
        ),
        ("Labels", {"fields": ["label_en", "label_sv", "label_da", "label_nb"]}),
        (
            "Follow-up question (optional)",
            {"fields": ["prompt_en", "prompt_sv", "prompt_da", "prompt_nb"]},
        ),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # reasons are referenced by cases; deactivate instead


@admin.register(OfferRule)
class OfferRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "priority",
        "active",
        "starts_on",
        "ends_on",
        "min_tenure_months",
        "cooldown_months",
    ]
    list_editable = ["priority", "active"]
    list_filter = ["active", "kind"]
    filter_horizontal = ["reasons"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "reasons", "priority", "active"]}),
        (
            "Conditions",
            {
                "fields": [
                    "starts_on",
                    "ends_on",
                    "min_tenure_months",
                    "min_monthly_value",
                    "requires_cheaper_plan",
                    "cooldown_months",
                    "max_cost_share",
                ]
            },
        ),
        (
            "The offer",
            {
                "fields": [
                    "pause_max_months",
                    "discount_percent",
                    "discount_months",
                    "bonus_kind",
                    "bonus_amount",
                ],
                "description": "Only the fields of the chosen kind are used.",
            },
        ),
    ]


class OfferInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Offer
    fields = [
        "position",
        "kind",
        "parameters",
        "cost",
        "rule",
        "withdrawn",
        "accepted_at",
        "accepted_cost",
        "options",
    ]
    extra = 0


class CaseStepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseStep
    fields = ["at", "kind", "actor_label", "data"]
    verbose_name_plural = "Timeline"
    extra = 0


@admin.register(CancellationCase)
class CancellationCaseAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "id",
        "customer",
        "subscription",
        "channel",
        "outcome",
        "reason",
        "churn_group",
        "opened_at",
        "decided_at",
        "actor",
    ]
    list_filter = [
        "outcome",
        "channel",
        "reason",
        "churn_group",
        ("opened_at", admin.DateFieldListFilter),
        ("actor", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = [
        "customer",
        "subscription__customer",
        "subscription__plan",
        "reason",
        "actor",
    ]
    search_fields = [
        "=id",
        "customer__name",
        "customer__email",
        "=subscription__external_id",
        "=customer__external_id",
    ]
    date_hierarchy = "opened_at"
    inlines = [OfferInline, CaseStepInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # cases change only through the services (web, API, phone interview)

    def get_urls(self):
        return [
            path(
                "interview/",
                self.admin_site.admin_view(
                    lambda request: admin_views.interview(request, self.admin_site, self)
                ),
                name="cancellations_interview",
            ),
            *super().get_urls(),
        ]


@admin.action(
    description="Create cancel links for the selected subscriptions", permissions=["view"]
)
def create_cancel_links(modeladmin, request, queryset):
    rows = [(*links.cancel_link(subscription=s), s.external_id) for s in queryset[:50]]
    messages.info(
        request,
        format_html_join(
            "",
            "<div>{}: <code>{}</code> (valid until {})</div>",
            ((external_id, url, f"{expires:%Y-%m-%d %H:%M}") for url, expires, external_id in rows),
        ),
    )
