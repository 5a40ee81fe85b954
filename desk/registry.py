"""How each source's call is logged.

The desk holds the queue; the apps that put calls in it know what logging one means (the
exit-interview page for a cancellation, the win-back call page for an outreach). Each
registers a function from a queue item to the admin URL where its call is logged, in its
``AppConfig.ready``, so the desk never imports or reverses the URLs of the apps above it.
"""

from collections.abc import Callable

from desk.models import CallbackRequest

_log_urls: dict[str, Callable[[CallbackRequest], str]] = {}


def register(*sources: str, log_url: Callable[[CallbackRequest], str]) -> None:
    for source in sources:
        _log_urls[source] = log_url


def log_url(callback: CallbackRequest) -> str | None:
    """Where an agent logs this call, or None if its source registered nothing."""
    make = _log_urls.get(callback.source)
    return make(callback) if make else None
