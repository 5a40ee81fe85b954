"""The signed links a customer follows: into the flow, and to undo a cancellation."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from cancellations.models import CancellationCase
from cancellations.selectors import flow_subscription
from core.links import LinkInvalid, absolute_url, make_token, read_token, token_id
from subscriptions.models import Subscription

UNDO_LINK_MAX_AGE = timedelta(days=400)  # the service checks the real deadline (the last day)


def cancel_link_max_age() -> timedelta:
    return timedelta(days=settings.TACK_CANCEL_LINK_MAX_AGE_DAYS)


def cancel_link(*, subscription: Subscription, staff=None) -> tuple[str, datetime]:
    """An absolute cancel link for this subscription, and when it expires.

    A link made by ``staff`` names them: a case opened through it is theirs (assisted).
    """
    payload = {"id": subscription.pk}
    if staff is not None:
        payload["u"] = staff.pk
    token = make_token(purpose="cancel", payload=payload)
    url = absolute_url(reverse("cancellations:entry", args=[token]))
    return url, timezone.now() + cancel_link_max_age()


def subscription_from_cancel_token(token: str, *, case: str | None = None) -> Subscription:
    """The subscription a cancel link names (customer and plan loaded); with ``case``, also
    its open or latest case in the same query (``selectors.flow_subscription``)."""
    payload = read_token(purpose="cancel", token=token, max_age=cancel_link_max_age())
    subscription = flow_subscription(pk=token_id(payload, "s"), case=case)
    if subscription is None:
        raise LinkInvalid
    return subscription


def staff_from_cancel_token(token: str):
    """The staff member who made this cancel link, or None for the customer's own link."""
    payload = read_token(purpose="cancel", token=token, max_age=cancel_link_max_age())
    if "u" not in payload:
        return None
    return get_user_model().objects.filter(pk=payload["u"], is_staff=True).first()


def undo_path(*, case: CancellationCase) -> str:
    token = make_token(purpose="undo", payload={"id": case.pk})
    return reverse("cancellations:undo", args=[token])


def undo_link(*, case: CancellationCase) -> str:
    """The absolute undo link, for the receipt email."""
    return absolute_url(undo_path(case=case))


def case_from_undo_token(token: str) -> CancellationCase:
    payload = read_token(purpose="undo", token=token, max_age=UNDO_LINK_MAX_AGE)
    case = (
        CancellationCase.objects.select_related("subscription", "customer", "subscription__plan")
        .filter(pk=token_id(payload, "c"))
        .first()
    )
    if case is None:
        raise LinkInvalid
    return case
