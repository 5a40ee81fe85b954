from django.contrib import admin, messages

from core import services
from core.models import ApiKey, OutboundEmail


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at"]
    fields = ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = services.api_key_create(name=obj.name, created_by=request.user)
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(
            request,
            f"The new API key is {raw_key} — copy it now: it is stored hashed and "
            "cannot be shown again.",
        )

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "to_email", "subject", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
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
            services.email_retry(email_id=pk) for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{sent} email(s) queued again.")
