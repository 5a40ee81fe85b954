"""The emails of the cancellation flow, queued in the outbox with the change that caused them.

They are service messages (a receipt with the undo link, confirmations): sent at least once,
every copy with the same Message-ID (``core.outbox.email``)."""

from cancellations.models import CancellationCase
from core.emails import render_email
from core.outbox.email import email_queue


def _send(case: CancellationCase, name: str, context: dict) -> None:
    customer = case.customer
    if not customer.email:
        return
    from cancellations.links import undo_link

    context = {"case": case, "customer": customer, "subscription": case.subscription, **context}
    if name == "cancellation_cancelled":
        context["undo_url"] = undo_link(case=case)
    subject, text, html = render_email(name, context, language=case.language)
    email_queue(
        dedupe_key=f"case-{case.pk}-{name}",
        kind=name,
        to_email=customer.email,
        subject=subject,
        body_text=text,
        body_html=html,
        customer=customer,
    )


def send_case_saved(case: CancellationCase) -> None:
    _send(case, "cancellation_saved", {"offer": case.accepted_offer})


def send_case_cancelled(case: CancellationCase) -> None:
    _send(case, "cancellation_cancelled", {})


def send_case_withdrawn(case: CancellationCase) -> None:
    _send(case, "cancellation_withdrawn", {})
