"""The customer's cancellation flow: server-rendered, works without JavaScript.

Every page is reached through a signed link that names one subscription; case and offer
ids in forms are only looked up within that subscription.
"""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_ratelimit.decorators import ratelimit

from cancellations import links, selectors, services
from cancellations.enums import CaseOutcome, OfferKind
from cancellations.models import CancellationCase, ExitReason
from core.customer_pages import (
    LANGUAGE_CODES,
    PUBLIC_RATE,
    from_token,
    language_from_token,
    requested_language,
    with_language,
)
from core.errors import TackError
from desk.enums import CallbackWindow
from subscriptions import selectors as subscription_selectors
from subscriptions.actors import Actor
from subscriptions.enums import Channel, SubscriptionStatus


def _cancel_token_language(token: str) -> str:
    return links.subscription_from_cancel_token(token).customer.locale


def _undo_token_language(token: str) -> str:
    return links.case_from_undo_token(token).language


def customer_page(view=None, *, case: str | None = None):
    """Resolve the cancel token to its subscription and render in the customer's language.

    ``case`` ("open" or "latest"): the case the page shows is read in the same query as the
    subscription, its customer and plan (``selectors.flow_subscription``), as
    ``request.flow["case"]``.
    """
    if view is None:
        return lambda view: customer_page(view, case=case)

    def read(token):
        return links.subscription_from_cancel_token(token, case=case)

    @language_from_token(_cancel_token_language)
    @wraps(view)
    @never_cache
    @ratelimit(key="ip", rate=PUBLIC_RATE, block=True)
    def wrapper(request, token, *args, **kwargs):
        subscription, problem = from_token(request, read, token)
        if problem is not None:
            return problem
        language = requested_language(request) or subscription.customer.locale
        if language not in LANGUAGE_CODES:
            language = "en"
        request.flow = {
            "token": token,
            "subscription": subscription,
            "case": getattr(subscription, "flow_case", None),
            "language": language,
            "staff": links.staff_from_cancel_token(token),
        }
        return with_language(
            request, language, lambda: view(request, subscription, *args, **kwargs)
        )

    return wrapper


def _url(name: str, request) -> str:
    return reverse(f"cancellations:{name}", args=[request.flow["token"]])


def _redirect(name: str, request) -> HttpResponseRedirect:
    return HttpResponseRedirect(_url(name, request), status=303)


def _page(request, template: str, context: dict, status: int = 200):
    subscription = request.flow["subscription"]
    context = {
        "subscription": subscription,
        "customer": subscription.customer,
        "token": request.flow["token"],
        "languages": settings.LANGUAGES,
        "current_path": request.path,
        **context,
    }
    return render(request, template, context, status=status)


def _actor(request) -> Actor:
    """The customer, or the staff member who made the link (an assisted case)."""
    staff = request.flow["staff"]
    return Actor.customer(Channel.WEB) if staff is None else Actor.staff(staff, Channel.WEB)


def _ending_page(request, subscription):
    """The subscription is already ending or ended: say so, and offer the undo if possible."""
    case = selectors.latest_case_for(subscription=subscription)
    undo_url = None
    if (
        subscription.status == SubscriptionStatus.CANCEL_PENDING
        and case is not None
        and case.outcome == CaseOutcome.CANCELLED
        and case.withdrawn_at is None
    ):
        undo_url = links.undo_path(case=case)
    return _page(request, "cancellations/already_ending.html", {"undo_url": undo_url})


@require_safe
@customer_page(case="open")
def entry(request, subscription):
    """Thanks, then one click for why — or one link to cancel without saying why.

    Reading it writes nothing (mail scanners and chat previews open every link first): the
    case opens on the customer's first click, a reason or "cancel my subscription".
    """
    if subscription.status in (SubscriptionStatus.CANCEL_PENDING, SubscriptionStatus.CANCELLED):
        return _ending_page(request, subscription)
    case = request.flow["case"]
    if case is not None and selectors.pending_callback(case=case) is not None:
        return _redirect("done", request)
    if case is not None and case.reason_id and request.GET.get("change") is None:
        return _redirect("offers", request)
    reasons = selectors.active_exit_reasons()
    order = (
        case.reason_order
        if case is not None
        else selectors.shuffled_reason_ids(
            seed=_reason_seed(request, subscription), reasons=reasons
        )
    )
    return _page(
        request,
        "cancellations/entry.html",
        {"case": case, "reasons": selectors.exit_reasons_in_order(order=order, reasons=reasons)},
    )


def _reason_seed(request, subscription) -> str:
    """The reasons are shuffled per link: the same on every visit, recorded when it opens."""
    return f"{subscription.pk}:{request.flow['token']}"


def _case_from_form(request, subscription) -> CancellationCase | None:
    """The case the form names, if it is this subscription's: the one the page's own
    statement read (``customer_page(case=…)``) when it is that one, else looked up."""
    try:
        case_id = int(request.POST.get("case", ""))
    except ValueError:
        return None
    case = request.flow["case"]
    if case is not None and case.pk == case_id:
        return case
    return CancellationCase.objects.filter(pk=case_id, subscription=subscription).first()


def _bad_request(request, message):
    return _page(request, "cancellations/problem.html", {"message": message}, status=400)


@require_POST
@customer_page
def choose_reason(request, subscription):
    """The first click on a reason opens the case (or resumes the open one) with it."""
    try:
        reason = ExitReason.objects.get(pk=int(request.POST.get("reason", "")), active=True)
    except (ValueError, ExitReason.DoesNotExist):
        return _bad_request(request, translation.gettext("Please choose one of the reasons shown."))
    try:
        services.cancellation_open(
            subscription=subscription,
            actor=_actor(request),
            reason=reason,
            language=request.flow["language"],
            reason_seed=_reason_seed(request, subscription),
        )
    except services.CaseAlreadyDecided:
        return _redirect("done", request)
    except TackError as error:
        if error.code == "not_cancellable":  # a second tab already cancelled
            return _redirect("done", request)
        return _bad_request(request, error.message)
    return _redirect("offers", request)


@require_http_methods(["GET", "HEAD", "POST"])
@customer_page
def leave(request, subscription):
    """Cancel without a reason or an offer: the first page links here (one click), and the
    button here confirms (the second). GET shows what will happen and writes nothing."""
    if request.method == "POST":
        try:
            services.cancellation_leave(
                subscription=subscription,
                actor=_actor(request),
                language=request.flow["language"],
                reason_seed=_reason_seed(request, subscription),
            )
        except TackError as error:
            if error.code != "not_cancellable":
                return _bad_request(request, error.message)
            # Already set to end (a double click, a second tab): the done page says so.
        return _redirect("done", request)
    if subscription.status in (SubscriptionStatus.CANCEL_PENDING, SubscriptionStatus.CANCELLED):
        return _ending_page(request, subscription)
    return _page(
        request,
        "cancellations/leave.html",
        {"period_end": subscription_selectors.next_period_end(subscription, now=timezone.now())},
    )


def _callback_days(today):
    days, day = [], today + timedelta(days=1)
    while len(days) < 5:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _offers_page(request, subscription, case, *, error=None, status=200):
    offers = selectors.offers_shown(case=case)
    return _page(
        request,
        "cancellations/offers.html",
        {
            "case": case,
            "offers": offers,
            "reason_prompt": case.reason.prompt_for(request.flow["language"])
            if case.reason
            else "",
            "asks_competitor": bool(case.reason and case.reason.asks_competitor),
            "pause_months": range(1, 4),
            "callback_days": _callback_days(timezone.localdate()),
            "callback_windows": CallbackWindow.choices,
            "error": error,
            "period_end": subscription_selectors.next_period_end(subscription, now=timezone.now()),
        },
        status=status,
    )


@require_safe
@customer_page(case="open")
def offers(request, subscription):
    case = request.flow["case"]
    if case is None or case.reason_id is None:
        return _redirect("entry", request)
    return _offers_page(request, subscription, case)


@require_POST
@customer_page(case="latest")
def decide(request, subscription):
    """Accept an offer or decline them all and cancel; always ends on the done page."""
    case = _case_from_form(request, subscription)
    if case is None:
        return _redirect("entry", request)
    choice = request.POST.get("choice", "")
    words = {"text": request.POST.get("text", ""), "competitor": request.POST.get("competitor", "")}
    try:
        if choice == "decline":
            services.cancellation_decide(
                case=case, actor=_actor(request), decision=services.Decision.DECLINE, **words
            )
        elif choice.startswith("offer-"):
            offer_id = int(choice.removeprefix("offer-"))
            services.cancellation_decide(
                case=case,
                actor=_actor(request),
                decision=services.Decision.ACCEPT,
                offer_id=offer_id,
                options={
                    "months": request.POST.get(f"months-{offer_id}"),
                    "day": request.POST.get("callback_day"),
                    "window": request.POST.get("callback_window"),
                },
                **words,
            )
        else:
            return _offers_page(
                request,
                subscription,
                case,
                error=translation.gettext("Please choose one of the options."),
                status=400,
            )
    except services.CaseAlreadyDecided:
        return _redirect("done", request)
    except ValueError:
        return _bad_request(request, translation.gettext("Please choose one of the options."))
    except TackError as error:
        case.refresh_from_db()
        if case.outcome != CaseOutcome.OPEN:
            return _redirect("done", request)
        return _offers_page(request, subscription, case, error=error.message, status=400)
    return _redirect("done", request)


@require_safe
@customer_page(case="latest")
def done(request, subscription):
    case = request.flow["case"]
    if case is None:
        return _redirect("entry", request)
    # Only an open case can be waiting for a call (the call-back offer leaves it open).
    callback = selectors.pending_callback(case=case) if case.outcome == CaseOutcome.OPEN else None
    if case.outcome == CaseOutcome.OPEN and callback is None:
        return _redirect("offers" if case.reason_id else "entry", request)
    if case.outcome == CaseOutcome.ABANDONED:
        return _redirect("entry", request)
    template = {
        CaseOutcome.SAVED: "cancellations/done_saved.html",
        CaseOutcome.CANCELLED: "cancellations/done_cancelled.html",
        CaseOutcome.OPEN: "cancellations/done_callback.html",
    }[case.outcome]
    return _page(
        request,
        template,
        {
            "case": case,
            "offer": case.accepted_offer,
            "callback": callback,
            "undo_url": links.undo_path(case=case)
            if case.outcome == CaseOutcome.CANCELLED and case.withdrawn_at is None
            else None,
            "OfferKind": OfferKind,
        },
    )


@language_from_token(_undo_token_language)
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit(key="ip", rate=PUBLIC_RATE, block=True)
def undo(request, token):
    """The link in the cancellation receipt: one click keeps the subscription."""
    case, problem = from_token(request, links.case_from_undo_token, token)
    if problem is not None:
        return problem
    language = requested_language(request) or case.language
    context = {
        "case": case,
        "subscription": case.subscription,
        "customer": case.customer,
        "languages": settings.LANGUAGES,
        "current_path": request.path,
    }

    def page():
        if request.method == "POST":
            try:
                services.cancellation_withdraw(case=case, actor=Actor.customer(Channel.EMAIL))
            except TackError as error:
                return render(
                    request,
                    "cancellations/undo.html",
                    {**context, "error": error.message},
                    status=410,
                )
            case.refresh_from_db()
            return render(request, "cancellations/undo.html", {**context, "withdrawn": True})
        return render(
            request, "cancellations/undo.html", {**context, "withdrawn": bool(case.withdrawn_at)}
        )

    return with_language(request, language, page)
