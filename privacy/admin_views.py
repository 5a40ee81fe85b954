"""The customer admin's data-rights pages: download the export, erase with confirmation."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from privacy import services
from subscriptions.actors import Actor
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import Customer


def export(request, model_admin, customer_id: int):
    if not request.user.has_perm("privacy.export_customer_data"):
        raise PermissionDenied
    customer = get_object_or_404(Customer, pk=customer_id)
    document = services.customer_data_export(customer=customer, actor=Actor.staff(request.user))
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="tack-customer-{customer.pk}.json"'
    return response


def erase(request, admin_site, model_admin, customer_id: int):
    if not request.user.has_perm("privacy.erase_customer_data"):
        raise PermissionDenied
    customer = get_object_or_404(Customer, pk=customer_id)
    change_url = reverse("admin:subscriptions_customer_change", args=[customer.pk])
    if request.method == "POST":
        erasure = services.customer_erase(customer=customer, actor=Actor.staff(request.user))
        if erasure.already_erased:
            messages.info(request, "This customer's personal data was already erased.")
        else:
            model_admin.log_change(request, erasure.customer, "Erased personal data")
            messages.success(request, "The customer's personal data is erased; the facts stay.")
        return HttpResponseRedirect(change_url)
    context = {
        **admin_site.each_context(request),
        "title": f"Erase the personal data of {customer}?",
        "opts": model_admin.model._meta,
        "customer": customer,
        "change_url": change_url,
        "running": customer.subscriptions.exclude(status=SubscriptionStatus.CANCELLED).count(),
    }
    return TemplateResponse(request, "admin/privacy/erase_confirm.html", context)
