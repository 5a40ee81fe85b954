"""The one place a Stripe client is made: key and API base from the settings, no retries
of the SDK's own (the outbox retries, with the same idempotency key), and every request
through Tack's outbound guard (``core.outbound``): https to a public address only, the
address checked once and connected to, no redirects."""

from functools import cache

import stripe
from django.conf import settings

from core import outbound

# A Stripe reply is JSON of one object or one page of a list; far below this.
REPLY_LIMIT = 16 * 1024 * 1024


class OutboundClient(stripe.HTTPClient):
    """The SDK's HTTP client on ``core.outbound.request``.

    A refused address or a failed connection is the SDK's ``APIConnectionError`` (the
    outbox retries it with backoff, then fails the command with it), with the guard's
    short reason and nothing of the socket's own text."""

    name = "tack-outbound"

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        if isinstance(post_data, str):
            post_data = post_data.encode()
        try:
            reply = outbound.request(
                method,
                url,
                body=post_data,
                headers=dict(headers or {}),
                timeout=self.timeout,
                read_limit=REPLY_LIMIT,
            )
        except (outbound.OutboundRefused, outbound.OutboundError) as exc:
            raise stripe.APIConnectionError(f"Stripe not reached: {exc.reason}") from exc
        return reply.body.decode("utf-8"), reply.status, reply.headers

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("Tack reads no streamed Stripe replies.")

    def close(self):
        pass


@cache
def _client(api_key: str, api_base: str, timeout: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=OutboundClient(timeout=timeout),
    )


def stripe_client() -> stripe.StripeClient:
    return _client(
        settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_SECONDS
    )
