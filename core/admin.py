import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from core import services, webhooks
from core.enums import ApiScope, EmailStatus, WebhookDeliveryStatus, WebhookEventType
from core.models import (
    ApiKey,
    BillingCommand,
    OutboundEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from core.outbound import validate_public_url
from core.outbox import billing as billing_outbox
from core.outbox import email as email_outbox
from core.outbox import webhooks as webhook_outbox


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Give a key only what its system needs (the README lists what each allows).",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at", "revoked_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "scope_list",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at"]
    fields = [
        "name",
        "scopes",
        "expires_at",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes) or "—"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = services.api_key_create(
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data["expires_at"],
            created_by=request.user,
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        obj.scopes = api_key.scopes
        request.tack_new_api_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        # The raw key is shown once, on this page: never in a message (the messages cookie
        # is signed, not encrypted) and never stored.
        raw_key = getattr(request, "tack_new_api_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/core/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Copy the new API key",
                "api_key": obj,
                "raw_key": raw_key,
            },
        )
        add_never_cache_headers(response)
        return response

    def has_delete_permission(self, request, obj=None):
        return False


class EmailStatusFilter(admin.SimpleListFilter):
    """The statuses with how many emails each has, so that emails whose outcome is unknown
    (an at-most-once send cut short) are counted where a manager looks."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        counts = dict(
            OutboundEmail.objects.values_list("status").annotate(n=Count("pk")).order_by()
        )
        return [
            (value, f"{label} ({counts.get(value, 0)})") for value, label in EmailStatus.choices
        ]

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "to_email",
        "subject",
        "status",
        "promise",
        "attempts",
        "sent_at",
    ]
    list_filter = [EmailStatusFilter, "promise", "kind"]
    search_fields = ["to_email", "dedupe_key", "subject"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Send failed emails again", permissions=["change"])
    def send_again(self, request, queryset):
        sent = sum(
            email_outbox.email_retry(email_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{sent} email(s) queued again.")


# --- Webhooks ----------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        validators=[validate_public_url],
        help_text="Receives a signed JSON POST per event: https, on the public internet.",
    )
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events posted to this URL (the README describes each payload).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "event_types", "active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "active", "event_count", "waiting", "failed", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    readonly_fields = ["signing_secret", "created_at", "created_by", "delivery_log"]
    actions = ["send_test_event", "rotate_secret"]

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "event_types", "active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_queryset(self, request):
        waiting = [WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.SENDING]
        return (
            super()
            .get_queryset(request)
            .annotate(
                waiting_count=Count("deliveries", filter=Q(deliveries__status__in=waiting)),
                failed_count=Count(
                    "deliveries", filter=Q(deliveries__status=WebhookDeliveryStatus.FAILED)
                ),
            )
        )

    @admin.display(description="events")
    def event_count(self, obj):
        return len(obj.event_types)

    @admin.display(description="waiting", ordering="waiting_count")
    def waiting(self, obj):
        return obj.waiting_count

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, obj):
        return obj.failed_count

    @admin.display(description="signing secret")
    def signing_secret(self, obj):
        return format_html(
            "<code>{}</code><div class='help'>Verify the <code>Tack-Signature</code> header "
            "with it (see the README). <em>Rotate the signing secret</em> replaces it.</div>",
            obj.secret,
        )

    @admin.display(description="deliveries")
    def delivery_log(self, obj):
        url = reverse("admin:core_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Delivery log</a>', url)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # the delivery log refers to it; deactivate instead

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            webhooks.webhook_send_test(endpoint=endpoint)
        self.message_user(
            request, f"{queryset.count()} test event(s) queued; see the delivery log."
        )

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            webhooks.webhook_rotate_secret(endpoint=endpoint)
            self.log_change(request, endpoint, "Rotated the signing secret")
        self.message_user(request, f"{queryset.count()} secret(s) replaced.", messages.WARNING)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "status_code", "latency_ms", "error"]
    readonly_fields = fields
    ordering = ["-number", "-pk"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


class OutboxLogAdmin(admin.ModelAdmin):
    """An outbox's rows, read-only: the change permission only unlocks the page's action
    (send again, retry), never the form."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OutboxLogAdmin):
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "sequence",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["event_type"]
    search_help_text = "An event id, or an event type."
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [WebhookAttemptInline]
    actions = ["send_again"]
    fields = [
        "event_id",
        "event_type",
        "endpoint",
        "sequence",
        "status",
        "attempts",
        "schedule_started_at",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "created_at",
        "payload_json",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        try:
            event_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(event_id=event_id), False

    @admin.display(description="payload")
    def payload_json(self, obj):
        return pretty_json(obj.payload)

    @admin.action(description="Send again (same event id)", permissions=["change"])
    def send_again(self, request, queryset):
        queued = 0
        for delivery in queryset.select_related("endpoint"):
            if webhook_outbox.webhook_redeliver(delivery_id=delivery.pk):
                queued += 1
                self.log_change(request, delivery, "Sent again")
                if not delivery.endpoint.active:
                    self.message_user(
                        request,
                        f"{delivery.endpoint.name} is inactive: its deliveries wait until it "
                        "is active again.",
                        messages.WARNING,
                    )
        self.message_user(request, f"{queued} delivery(ies) queued again.")


@admin.register(BillingCommand)
class BillingCommandAdmin(OutboxLogAdmin):
    """Decisions carried out in billing (Stripe). Refused and failed ones show billing's
    error; "Retry" sends them again with a new idempotency key."""

    list_display = [
        "created_at",
        "kind",
        "subscription_ref",
        "status",
        "attempts",
        "round",
        "last_error",
        "applied_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["payload__tack_subscription"]
    search_help_text = "A subscription's external id."
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["retry"]
    fields = [
        "kind",
        "subscription_ref",
        "ledger_event_id",
        "status",
        "attempts",
        "round",
        "idempotency_key",
        "next_attempt_at",
        "applied_at",
        "error_code",
        "last_error",
        "created_at",
        "payload_json",
        "result",
    ]
    readonly_fields = fields

    @admin.display(description="subscription")
    def subscription_ref(self, obj):
        return obj.payload.get("tack_subscription", obj.subscription_id)

    @admin.display(description="command")
    def payload_json(self, obj):
        return pretty_json(obj.payload)

    @admin.action(description="Retry in billing (refused or failed ones)", permissions=["change"])
    def retry(self, request, queryset):
        queued = 0
        for command in queryset:
            if billing_outbox.billing_command_retry(command_id=command.pk):
                queued += 1
                self.log_change(request, command, "Retried in billing")
        self.message_user(request, f"{queued} command(s) sent to billing again.")
