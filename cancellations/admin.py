from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.cache import add_never_cache_headers
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
    filter_horizontal = ["reasons", "plans"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "reasons", "priority", "active"]}),
        (
            "Targeting",
            {
                "fields": ["billing_intervals", "plans", "currencies"],
                "description": "Empty: every billing interval, plan or currency. Annual plans "
                "should not be offered a pause (it gives the next year free or does nothing).",
            },
        ),
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


class CancelLinkReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the customer needs a link made by staff, e.g. 'asked by phone, #4711'.",
    )


@admin.action(
    description="Create cancel links for the selected subscriptions", permissions=["change"]
)
def create_cancel_links(modeladmin, request, queryset):
    """A staff action on the record: asks why, logs who made a link for which customer, and
    the link carries the staff member, so a case opened through it is assisted, not the
    customer's own. The links are shown on a page, never in a message (a cookie)."""
    subscriptions = list(queryset.select_related("customer")[:50])
    form = CancelLinkReasonForm(request.POST if "reason" in request.POST else None)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Create cancel links",
        "subscriptions": subscriptions,
        "form": form,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    if form.is_valid():
        reason = form.cleaned_data["reason"]
        rows = []
        for subscription in subscriptions:
            url, expires = links.cancel_link(subscription=subscription, staff=request.user)
            modeladmin.log_change(
                request,
                subscription,
                f"Created a cancel link for customer {subscription.customer.external_id}, "
                f"valid until {expires:%Y-%m-%d %H:%M}. Reason: {reason}",
            )
            rows.append((subscription.external_id, url, expires))
        context["rows"] = rows
    response = TemplateResponse(request, "admin/cancellations/cancel_links.html", context)
    add_never_cache_headers(response)
    return response
