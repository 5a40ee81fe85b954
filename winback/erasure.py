"""Data rights on the win-back's rows: what the customer said and was told goes, the facts
(groups, contacts made, comebacks) stay, and an erased person is never contacted again."""

from datetime import datetime

from django.db.models import Q

from winback.enums import OutreachStatus
from winback.links import email_hash
from winback.models import LostCustomer, Outreach, Suppression


def customer_suppress_for_erasure(*, customer, now: datetime) -> None:
    """A suppression entry with a SHA-256 of the address, so the person is never contacted
    again, even if their address comes back in a new customer."""
    hashed = email_hash(customer.email.strip())
    suppression, created = Suppression.objects.get_or_create(
        customer=customer, defaults={"email_hash": hashed, "source": "erasure", "created_at": now}
    )
    if not created and hashed and not suppression.email_hash:
        Suppression.objects.filter(pk=suppression.pk).update(email_hash=hashed)


def customer_winback_erase(*, customer) -> dict[str, int]:
    """The customer's words on their lost-customer records, call notes and errors; their
    planned contacts skipped."""
    return {
        "lost_customer_records": LostCustomer.objects.filter(customer=customer)
        .exclude(reason_text="")
        .update(reason_text=""),
        "outreach_skipped": Outreach.objects.filter(
            customer=customer, status=OutreachStatus.SCHEDULED
        ).update(status=OutreachStatus.SKIPPED, skip_reason="erased"),
        "outreach_notes": Outreach.objects.filter(customer=customer)
        .exclude(call_outcome="", error="")
        .update(call_outcome="", error=""),
    }


def winback_texts_clear_expired(*, cutoff: datetime, old_cases) -> dict[str, int]:
    """Free text past the retention limit: lost-customer reasons and win-back call notes."""
    return {
        "lost_customer_records": LostCustomer.objects.filter(
            Q(case__in=old_cases.values("pk")) | Q(left_at__lt=cutoff)
        )
        .exclude(reason_text="")
        .update(reason_text=""),
        "outreach_notes": Outreach.objects.filter(created_at__lt=cutoff)
        .exclude(call_outcome="")
        .update(call_outcome=""),
    }
