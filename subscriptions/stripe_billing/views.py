"""Stripe's webhook endpoint: verify, take the event, answer 200 (or 400 when the
signature is missing, wrong or stale, so Stripe never counts a forged event as sent)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from subscriptions.stripe_billing.events import (
    StripeSignatureError,
    stripe_event_receive,
    stripe_event_verify,
)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe_event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except StripeSignatureError:
        return JsonResponse({"error": "invalid signature"}, status=400)
    row = stripe_event_receive(event=event)
    return JsonResponse({"received": True, "duplicate": row is None})
