"""The one place a Stripe client is made: key and API base from the settings, no retries
of the SDK's own (the outbox retries, with the same idempotency key)."""

from functools import cache

import stripe
from django.conf import settings


@cache
def _client(api_key: str, api_base: str, timeout: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def stripe_client() -> stripe.StripeClient:
    return _client(
        settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_SECONDS
    )
