"""Data rights on core's rows: the customer's emails and stored API answers."""

from django.db.models import Q

from core.enums import EmailStatus
from core.models import IdempotencyRecord, OutboundEmail

NOT_SENT = "Not sent: the customer's personal data was erased."


def customer_emails_erase(*, customer, address: str) -> dict[str, int]:
    """Addresses, subjects and bodies of the emails to this customer (or to their address
    with no customer named) go; an email not sent yet is never sent."""
    unowned_to_them = Q(customer__isnull=True, to_email__iexact=address) if address else Q()
    emails = OutboundEmail.objects.filter(
        pk__in=list(
            OutboundEmail.objects.filter(Q(customer=customer) | unowned_to_them).values_list(
                "pk", flat=True
            )
        )
    )
    return {
        "emails": emails.update(
            to_email="", subject="", body_text="", body_html="", headers={}, last_error=""
        ),
        "emails_not_sent": emails.filter(
            status__in=[EmailStatus.PENDING, EmailStatus.SENDING]
        ).update(status=EmailStatus.FAILED, last_error=NOT_SENT),
    }


def api_answers_forget(*, object_ids: list[int]) -> int:
    """Stored API answers (kept for a while, for Idempotency-Key replays) about these
    objects, which may quote the customer's words."""
    if not object_ids:
        return 0
    return IdempotencyRecord.objects.filter(response_body__id__in=object_ids).delete()[0]
