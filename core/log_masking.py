"""Logs without personal data or secrets: email addresses, phone numbers, signed customer
tokens and Tack's own secrets (API keys, webhook secrets) are masked in every log line.

``MaskSecretsFilter`` is installed on the log handlers (config/settings.py LOGGING), so it
sees every record the web process and the Celery worker write, whichever logger made it;
config/gunicorn.py masks gunicorn's access log the same way (its request line carries the
customers' links). This module imports nothing from Django: gunicorn loads it before the app.
"""

import logging
import re

# A django.core.signing token: payload:timestamp:signature (payload starts with "." when
# compressed), in a URL the colons may be percent-encoded.
_COLON = r"(?::|%3[aA])"
SIGNED_TOKEN = re.compile(
    rf"\.?[A-Za-z0-9_-]{{8,}}{_COLON}[A-Za-z0-9_-]{{4,}}{_COLON}[A-Za-z0-9_-]{{20,}}"
)
SECRET = re.compile(r"\b(?:tack_[0-9a-f]{8}_|whsec_)[A-Za-z0-9_-]{8,}")
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Phone numbers in the shapes customers type them: seven or more digits after a "+" or a
# leading 0 ("+46 70-123 45 67", "0701234567"), or eight or more digits ("12 34 56 78"),
# with the usual separators in between. Dates (2026-12-03) and short ids are left alone.
_SEP = r"[ ()/-]{0,2}"
PHONE = re.compile(
    rf"(?<![\w.:/-])(?!\d{{4}}-\d{{2}}-\d{{2}}(?!\d))"
    rf"(?:\+\d(?:{_SEP}\d){{6,}}|0(?:{_SEP}\d){{6,}}|\d(?:{_SEP}\d){{7,}})"
    rf"(?![\w:])"
)

MASKS = [
    (SIGNED_TOKEN, "[token]"),
    (SECRET, "[secret]"),
    (EMAIL, "[email]"),
    (PHONE, "[phone]"),
]


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


class MaskSecretsFilter(logging.Filter):
    """Formats the message with its arguments, masks it, and keeps the result (args gone),
    so no handler or formatter after this one sees the raw values. Tracebacks too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True
