"""The agents' phone desk in the admin: the exit-interview page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from cancellations import selectors, services
from cancellations.forms import FindSubscriptionForm, InterviewForm
from cancellations.models import ExitReason
from core.errors import TackError
from desk import selectors as desk_selectors
from desk.models import CallbackRequest
from subscriptions.models import Subscription
from subscriptions.selectors import subscription_search, tenure_months

SEARCH_LIMIT = 25


def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _subscription_from_query(request):
    """(subscription, callback) named by ?subscription=, ?callback= or ?customer=."""
    callback = None
    if request.GET.get("callback"):
        callback = get_object_or_404(CallbackRequest, pk=request.GET["callback"])
        subscription = callback.subscription or (
            callback.customer.subscriptions.order_by("-started_at").first()
        )
        return subscription, callback
    if request.GET.get("subscription"):
        return get_object_or_404(Subscription, pk=request.GET["subscription"]), None
    if request.GET.get("customer"):
        subscriptions = list(
            Subscription.objects.filter(customer_id=request.GET["customer"]).order_by("-started_at")
        )
        live = [s for s in subscriptions if s.status in ("active", "paused")]
        if len(live) == 1:
            return live[0], None
    return None, None


def _context(subscription: Subscription) -> dict:
    customer = subscription.customer
    cases = subscription.cancellation_cases.select_related(
        "reason", "accepted_offer", "actor"
    ).order_by("-opened_at")[:10]
    offers_by_reason = [
        (reason, selectors.offers_for(subscription=subscription, reason=reason))
        for reason in ExitReason.objects.filter(active=True)
    ]
    return {
        "subscription": subscription,
        "customer": customer,
        "tenure": tenure_months(customer=customer, today=timezone.localdate()),
        "cases": cases,
        "callbacks": desk_selectors.live_callbacks_of(customer_id=customer.pk).order_by("due_at"),
        "offers_by_reason": offers_by_reason,
        "ending": subscription.status not in ("active", "paused"),
    }


def interview(request, admin_site, model_admin):
    """One page: find the customer, see them at a glance, log the call's outcome."""
    _require(request, "cancellations.log_exit_interview")
    context = {
        **admin_site.each_context(request),
        "title": "Log a phone exit interview",
        "opts": model_admin.model._meta,
        "query": request.GET.get("q", ""),
    }
    if request.method == "POST":
        form = InterviewForm(request.POST)
        subscription = None
        if form.is_valid():
            data = form.cleaned_data
            subscription = data["subscription"]
            callback = (
                CallbackRequest.objects.filter(pk=data["callback"]).first()
                if data.get("callback")
                else None
            )
            try:
                case = services.phone_interview_log(
                    subscription=subscription,
                    agent=request.user,
                    reason=data["reason"],
                    outcome=data["outcome"],
                    offer_kind=data.get("offer_kind") or "",
                    options={"months": data.get("pause_months")},
                    notes=data.get("notes") or "",
                    churn_group=data.get("churn_group") or "",
                    competitor=data.get("competitor") or "",
                    follow_up_at=data.get("follow_up_at"),
                    call_duration_seconds=(
                        data["call_minutes"] * 60 if data.get("call_minutes") is not None else None
                    ),
                    callback=callback,
                    submission_key=data["submission_key"],
                )
            except TackError as error:
                form.add_error(None, error.message)
            else:
                model_admin.log_addition(
                    request, case, f"Logged a phone exit interview: {data['outcome']}"
                )
                messages.success(request, f"Logged: {case}.")
                return HttpResponseRedirect(
                    reverse("admin:cancellations_cancellationcase_change", args=[case.pk])
                )
        subscription = (
            subscription
            or Subscription.objects.filter(pk=request.POST.get("subscription") or 0).first()
        )
        if subscription is not None:
            context.update(_context(subscription))
        context["form"] = form
        return TemplateResponse(request, "admin/cancellations/interview.html", context, status=400)

    subscription, callback = _subscription_from_query(request)
    context["find_form"] = FindSubscriptionForm(initial={"subscription": subscription})
    context["results"] = subscription_search(query=context["query"], limit=SEARCH_LIMIT)
    if request.GET.get("customer") and subscription is None:
        context["results"] = list(
            Subscription.objects.filter(customer_id=request.GET["customer"]).select_related(
                "customer", "plan"
            )
        )
    if subscription is not None:
        context.update(_context(subscription))
        initial = {"subscription": subscription.pk}
        if callback is not None:
            initial["callback"] = callback.pk
            context["callback"] = callback
            reason_id = selectors.reason_of_called_case(callback=callback)
            if reason_id:
                initial["reason"] = reason_id
        context["form"] = InterviewForm(initial=initial)
    return TemplateResponse(request, "admin/cancellations/interview.html", context)
