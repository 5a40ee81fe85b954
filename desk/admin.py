from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from desk import registry, services
from desk.enums import LIVE
from desk.models import CallbackRequest
from subscriptions.admin import ReadOnlyAdminMixin

CHANGELIST = "admin:desk_callbackrequest_changelist"


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
        live = queryset.filter(status__in=LIVE)
        if self.value() == "mine":
            return live.filter(assigned_to=request.user)
        if self.value() == "overdue":
            return live.filter(due_at__lt=timezone.now())
        if self.value() == "closed":
            return queryset.exclude(status__in=LIVE)
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

    def has_change_permission(self, request, obj=None):
        # The queue changes through its actions and the sources' log pages, not by editing rows.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        stamp = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")
        if obj.status in LIVE and obj.due_at < timezone.now():
            return format_html('<strong class="overdue">{} overdue</strong>', stamp)
        return stamp

    @admin.display(description="phone")
    def phone(self, obj):
        return obj.customer.phone

    @admin.display(description="")
    def log_outcome(self, obj):
        url = registry.log_url(obj) if obj.status in LIVE else None
        return format_html('<a href="{}">Log the call</a>', url) if url else ""

    def get_urls(self):
        return [
            path(
                "take-next/",
                self.admin_site.admin_view(self.take_next),
                name="desk_callback_take_next",
            ),
            *super().get_urls(),
        ]

    def take_next(self, request):
        """Give the agent the next due call and open the page where it is logged."""
        if request.method != "POST" or not request.user.has_perm("desk.change_callbackrequest"):
            raise PermissionDenied
        item = services.callback_take_next(agent=request.user)
        if item is None:
            messages.info(request, "Nothing is due right now.")
            return HttpResponseRedirect(reverse(CHANGELIST))
        messages.success(request, f"Your call: {item.customer} ({item.reason or item.source}).")
        return HttpResponseRedirect(registry.log_url(item) or reverse(CHANGELIST))
