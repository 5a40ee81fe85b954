from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from privacy import admin_views
from privacy.models import DataRightsLog
from subscriptions.admin import CustomerAdmin, ReadOnlyAdminMixin
from subscriptions.models import Customer


@admin.register(DataRightsLog)
class DataRightsLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "customer_external_id", "actor_label", "channel"]
    list_filter = ["action", "channel"]
    search_fields = ["=customer_external_id", "actor_label"]
    date_hierarchy = "at"


class DataRightsCustomerAdmin(CustomerAdmin):
    """The customer admin, with "Export data (JSON)" and "Erase personal data" for managers."""

    change_form_template = "admin/privacy/customer/change_form.html"
    actions = [*(CustomerAdmin.actions or []), "export_data", "erase_data"]

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "<int:customer_id>/export/",
                site.admin_view(
                    lambda request, customer_id: admin_views.export(request, self, customer_id)
                ),
                name="privacy_customer_export",
            ),
            path(
                "<int:customer_id>/erase/",
                site.admin_view(
                    lambda request, customer_id: admin_views.erase(request, site, self, customer_id)
                ),
                name="privacy_customer_erase",
            ),
            *super().get_urls(),
        ]

    def has_export_data_permission(self, request):
        return request.user.has_perm("privacy.export_customer_data")

    def has_erase_data_permission(self, request):
        return request.user.has_perm("privacy.erase_customer_data")

    def _one(self, request, queryset, url_name: str):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one customer.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(url_name, args=[queryset.get().pk]))

    @admin.action(description="Export data (JSON)", permissions=["export_data"])
    def export_data(self, request, queryset):
        return self._one(request, queryset, "admin:privacy_customer_export")

    @admin.action(description="Erase personal data…", permissions=["erase_data"])
    def erase_data(self, request, queryset):
        return self._one(request, queryset, "admin:privacy_customer_erase")


admin.site.unregister(Customer)
admin.site.register(Customer, DataRightsCustomerAdmin)
