"""The agent's page for a win-back call: who, why they left, what to say, and the outcome."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation

from core.errors import TackError
from desk.services import callback_no_answer
from winback import messages as winback_messages
from winback import services
from winback.enums import OutreachChannel
from winback.models import Outreach

OUTCOMES = {
    "comes_back": "The customer comes back",
    "not_interested": "Not interested",
    "no_answer": "No answer",
}


def call(request, admin_site, model_admin, outreach_id: int):
    if not request.user.has_perm("winback.log_winback_call"):
        raise PermissionDenied
    outreach = (
        Outreach.objects.select_related(
            "customer",
            "campaign",
            "callback",
            "lost_customer__plan",
            "lost_customer__reason",
            "lost_customer__subscription",
        )
        .filter(pk=outreach_id, channel=OutreachChannel.PHONE)
        .first()
    )
    if outreach is None:
        raise Http404
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        note = request.POST.get("note", "").strip()[:300]
        try:
            if outcome == "no_answer":
                if outreach.callback is None:
                    raise TackError("This call has no queue item.")
                callback_no_answer(callback=outreach.callback, agent=request.user)
            elif outcome in OUTCOMES:
                services.outreach_log_call(
                    outreach=outreach,
                    agent=request.user,
                    comes_back=outcome == "comes_back",
                    note=note,
                )
            else:
                raise TackError("Choose how the call ended.")
        except TackError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(request, f"Logged: {OUTCOMES[outcome]} ({outreach.customer}).")
            return HttpResponseRedirect(reverse("admin:desk_callbackrequest_changelist"))
    with translation.override("en"):
        offer = winback_messages.offer_text(outreach.campaign)
    context = {
        **admin_site.each_context(request),
        "title": f"Win-back call: {outreach.customer.name}",
        "opts": model_admin.model._meta,
        "outreach": outreach,
        "lost": outreach.lost_customer,
        "offer": offer,
        "outcomes": OUTCOMES,
    }
    return TemplateResponse(request, "admin/winback/call.html", context)


def call_for_callback(request, admin_site, model_admin, callback_id: int):
    if not request.user.has_perm("winback.log_winback_call"):
        raise PermissionDenied  # before the lookup, so the answer tells nothing about the id
    outreach = Outreach.objects.filter(callback_id=callback_id).values_list("pk", flat=True).first()
    if outreach is None:
        raise Http404
    return call(request, admin_site, model_admin, outreach)
