"""Checks on what the company's systems and staff write about a customer."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Bidirectional overrides and isolates: they make a name display as something else.
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_no_control_characters(value: str) -> None:
    """Refuse control characters (newlines, tabs, escapes, NUL) and bidi overrides: a name is
    shown in emails, CSV files, logs and the admin, and must look there as it was typed."""
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in value):
        raise ValidationError(_("Control characters are not allowed."), code="control_characters")


# The API schema states this as a pattern (core/api_schema.py).
validate_no_control_characters.refuses_control_characters = True
