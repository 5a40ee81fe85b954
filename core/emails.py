"""Rendering emails from templates in the customer's language.

Each email is three templates: ``emails/<name>_subject.txt``, ``emails/<name>.txt`` and
``emails/<name>.html``.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation


def render_email(
    name: str, context: dict, *, language: str, subject: bool = True
) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of ``name`` in ``language``; with ``subject`` False the
    caller has its own subject and the subject is ""."""
    context = {
        "company_name": settings.TACK_COMPANY_NAME,
        "support_email": settings.TACK_SUPPORT_EMAIL,
        "support_phone": settings.TACK_SUPPORT_PHONE,
        **context,
    }
    with translation.override(language):
        title = render_to_string(f"emails/{name}_subject.txt", context) if subject else ""
        text = render_to_string(f"emails/{name}.txt", context)
        html = render_to_string(f"emails/{name}.html", context)
    return " ".join(title.split()), text.strip() + "\n", html
