"""Reads of the callback queue."""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet

from desk.enums import LIVE
from desk.models import CallbackRequest


def callbacks_for(*, sources: Iterable[str], source_ref: int) -> QuerySet[CallbackRequest]:
    return CallbackRequest.objects.filter(source__in=list(sources), source_ref=source_ref)


def pending_callback(*, sources: Iterable[str], source_ref: int) -> CallbackRequest | None:
    """The open or in-progress call about this source's object, if any."""
    return callbacks_for(sources=sources, source_ref=source_ref).filter(status__in=LIVE).first()


def has_pending_callback(*, sources: Iterable[str]) -> Exists:
    """For a queryset's filter: a live call exists about the outer row (its primary key is
    the call's ``source_ref``)."""
    return Exists(
        CallbackRequest.objects.filter(
            source__in=list(sources), source_ref=OuterRef("pk"), status__in=LIVE
        )
    )


def live_callbacks_of(*, customer_id: int) -> QuerySet[CallbackRequest]:
    return CallbackRequest.objects.filter(customer_id=customer_id, status__in=LIVE)
