"""The two public pages a win-back message links to: come back, and unsubscribe."""

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from core.customer_pages import (
    LANGUAGE_CODES,
    PUBLIC_RATE,
    from_token,
    language_from_token,
    requested_language,
    with_language,
)
from core.errors import TackError
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from winback import links, messages, services


def _language(request, fallback: str) -> str:
    language = requested_language(request) or fallback
    return language if language in LANGUAGE_CODES else "en"


@language_from_token(lambda token: links.outreach_from_comeback_token(token).customer.locale)
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit(key="ip", rate=PUBLIC_RATE, block=True)
def comeback(request, token):
    """Acknowledge the past, show what has improved and the offer; one click to come back."""
    outreach, problem = from_token(request, links.outreach_from_comeback_token, token)
    if problem is not None:
        return problem
    lost, campaign = outreach.lost_customer, outreach.campaign
    language = _language(request, outreach.customer.locale)

    def page():
        context = {
            "customer": outreach.customer,
            "lost": lost,
            "campaign": campaign,
            "improvements": campaign.text_for("improvements", language),
            "offer": messages.offer_text(campaign),
            "tenure_years": lost.tenure_months // 12,
            "languages": settings.LANGUAGES,
            "current_path": request.path,
            "already_back": lost.came_back_at is not None,
        }
        if request.method == "POST" and lost.came_back_at is None:
            try:
                services.comeback_record(
                    lost_customer=lost, outreach=outreach, actor=Actor.customer(Channel.WEB)
                )
            except services.ComebackError:  # a double click, or two tabs: one comeback
                return render(request, "winback/comeback.html", {**context, "already_back": True})
            except TackError as error:
                return render(
                    request,
                    "winback/comeback.html",
                    {**context, "error": error.message},
                    status=409,
                )
            return render(request, "winback/comeback.html", {**context, "welcomed": True})
        return render(request, "winback/comeback.html", context)

    return with_language(request, language, page)


@language_from_token(lambda token: links.customer_from_unsubscribe_token(token).locale)
@csrf_exempt  # RFC 8058: mail clients POST the one-click unsubscribe without a session
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit(key="ip", rate=PUBLIC_RATE, block=True)
def unsubscribe(request, token):
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST — the
    page's button or a mail client's one-click ``List-Unsubscribe=One-Click`` — does it."""
    customer, problem = from_token(request, links.customer_from_unsubscribe_token, token)
    if problem is not None:
        return problem
    language = _language(request, customer.locale)

    def page():
        done = False
        if request.method == "POST":
            services.customer_unsubscribe(customer=customer)
            done = True
        return render(
            request,
            "winback/unsubscribe.html",
            {
                "customer": customer,
                "done": done or services.is_suppressed(customer),
                "languages": settings.LANGUAGES,
                "current_path": request.path,
            },
        )

    return with_language(request, language, page)
