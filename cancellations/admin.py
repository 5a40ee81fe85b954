from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from cancellations import admin_views, links, services
from cancellations.enums import CallbackSource, CallbackStatus
from cancellations.models import (
    CallbackRequest,
    CancellationCase,
    CaseStep,
    ExitReason,
    Offer,
    OfferRule,
)
from subscriptions.admin import ReadOnlyAdminMixin, SubscriptionAdmin


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


@admin.action(description="Assign to me", permissions=["change"])
def assign_to_me(modeladmin, request, queryset):
    for callback in queryset:
        services.callback_assign(callback=callback, to=request.user, by=request.user)
        modeladmin.log_change(request, callback, "Assigned to themselves")


@admin.action(description="No answer: try again later", permissions=["change"])
def no_answer(modeladmin, request, queryset):
    for callback in queryset:
        services.callback_no_answer(callback=callback, agent=request.user)
        modeladmin.log_change(request, callback, "No answer")


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", "Mine"), ("overdue", "Overdue"), ("closed", "Closed"), ("all", "All")]

    def queryset(self, request, queryset):
        live = queryset.filter(status__in=[CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS])
        if self.value() == "mine":
            return live.filter(assigned_to=request.user)
        if self.value() == "overdue":
            return live.filter(due_at__lt=timezone.now())
        if self.value() == "closed":
            return queryset.exclude(status__in=[CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS])
        if self.value() == "all":
            return queryset
        return live  # by default, the live queue


@admin.register(CallbackRequest)
class CallbackRequestAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "due",
        "window",
        "customer",
        "phone",
        "reason",
        "source",
        "status",
        "assigned_to",
        "attempts",
        "log_outcome",
    ]
    list_filter = [
        QueueFilter,
        "status",
        "source",
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["customer", "assigned_to"]
    search_fields = ["customer__name", "customer__phone", "=customer__external_id"]
    ordering = ["due_at", "pk"]
    actions = [assign_to_me, no_answer]
    change_list_template = "admin/cancellations/callbackrequest/change_list.html"

    def has_change_permission(self, request, obj=None):
        # The queue changes through its actions and the interview page, not by editing rows.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        stamp = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
        live = obj.status in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS)
        if live and obj.due_at < timezone.now():
            return format_html(
                '<strong class="overdue" style="color:#ba2121">{} overdue</strong>', stamp
            )
        return stamp

    @admin.display(description="phone")
    def phone(self, obj):
        return obj.customer.phone

    @admin.display(description="")
    def log_outcome(self, obj):
        if obj.status not in (CallbackStatus.OPEN, CallbackStatus.IN_PROGRESS):
            return ""
        if obj.source == CallbackSource.WINBACK:
            url = reverse("admin:winback_outreach_call_for_callback", args=[obj.pk])
        else:
            url = reverse("admin:cancellations_interview") + f"?callback={obj.pk}"
        return format_html('<a href="{}">Log the call</a>', url)

    def get_urls(self):
        return [
            path(
                "take-next/",
                self.admin_site.admin_view(
                    lambda request: admin_views.take_next(request, self.admin_site, self)
                ),
                name="cancellations_callback_take_next",
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


SubscriptionAdmin.actions = [*(SubscriptionAdmin.actions or []), create_cancel_links]
