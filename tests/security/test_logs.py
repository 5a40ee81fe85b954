"""Logs carry no personal data and no secrets: every line goes through the masking filter
configured in LOGGING, gunicorn's access log masks the customer's link, and the email
outbox's warnings name no recipient."""

import io
import logging
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from gunicorn.config import Config

from config.gunicorn import AccessLogger
from core.links import make_token
from core.log_masking import MaskSecretsFilter, mask
from core.outbox import email as email_outbox
from tests.conftest import free_port

EMAIL = "astrid.lindqvist@example.se"
PHONE = "+46 70-123 45 67"


def console_handler() -> logging.Handler:
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, MaskSecretsFilter) for f in h.filters)
    ]
    return handler


def test_every_log_line_is_masked_args_included(caplog):
    token = make_token(purpose="cancel", payload={"s": 123456})
    api_key = "tack_0a1b2c3d_" + "x" * 43
    handler = console_handler()
    stream = io.StringIO()
    old_stream = handler.setStream(stream)
    logger = logging.getLogger("tack.anywhere")

    try:
        with caplog.at_level(logging.INFO):
            logger.warning("refused %s, phone %s", EMAIL, PHONE)
            logger.info("link http://testserver/cancel/%s/reason/ opened", token)
            logger.info("key %s (%s)", api_key, {"to": [EMAIL]})
            try:
                raise ValueError(f"bad address {EMAIL}")
            except ValueError:
                logger.exception("sending to 0701234567 failed")
    finally:
        handler.setStream(old_stream)

    written = stream.getvalue()
    captured = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for text in (written, captured):
        for secret in (EMAIL, PHONE, "0701234567", token, api_key, token.split(":")[-1]):
            assert secret not in text
    assert written.count("[email]") == 3  # the traceback's message too
    assert "refused [email], phone [phone]" in written
    assert "link http://testserver/cancel/[token]/reason/ opened" in written
    assert "key [secret] ({'to': ['[email]']})" in written


@pytest.mark.parametrize(
    "text, masked",
    [
        ("order 2026-12-03 id 12345 took 1500 ms", "order 2026-12-03 id 12345 took 1500 ms"),
        ("call 08-123 456 00 now", "call [phone] now"),
        ("webhook delivery 1234567 took 0.001500 s", "webhook delivery 1234567 took 0.001500 s"),
        ("ring 0701234567 or 12 34 56 78", "ring [phone] or [phone]"),
        ("whsec_abcdefghijklmnop rotated", "[secret] rotated"),
        (
            "/cancel/.eJyrVkrOz0vOSVWyUjI0MjYxNTM3VqoFAFcpBqs%3A1v2b3c%3AabcdefghijABCDEFGHIJ_-/",
            "/cancel/[token]/",
        ),
    ],
)
def test_mask_keeps_dates_and_small_numbers(text, masked):
    assert mask(text) == masked


def test_the_access_log_masks_the_token_in_a_customer_link():
    token = make_token(purpose="cancel", payload={"s": 7})
    path = f"/cancel/{token}/offers/"
    logger = AccessLogger(Config())
    request = SimpleNamespace(
        method="GET",
        path=path,
        query="lang=sv",
        uri=f"{path}?lang=sv",
        version=(1, 1),
        headers=[("REFERER", f"https://tack.example{path}")],
    )
    response = SimpleNamespace(status="200 OK", sent=100, headers=[], response_length=100)
    environ = {
        "REMOTE_ADDR": "203.0.113.9",
        "RAW_URI": f"{path}?lang=sv",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "lang=sv",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://tack.example{path}",
    }

    atoms = logger.atoms(response, request, environ, _Elapsed())

    line = " ".join(str(v) for v in atoms.values())
    assert token not in line
    assert "/cancel/[token]/offers/" in atoms["r"] and "/cancel/[token]/offers/" in atoms["U"]


class _Elapsed:
    seconds, microseconds = 0, 1500

    def total_seconds(self):
        return 0.0015


class _RefuseRecipient:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 <" + address + ">: no such user"


@pytest.mark.django_db
def test_a_refused_email_is_logged_without_the_address(settings, caplog):
    controller = Controller(_RefuseRecipient(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = (
        "127.0.0.1",
        controller.port,
        False,
    )
    email = email_outbox.email_queue(
        dedupe_key="k", kind="test", to_email=EMAIL, subject="Hej", body_text="Hej"
    )
    try:
        with caplog.at_level(logging.WARNING, logger="core.outbox.email"):
            assert email_outbox.email_send(email_id=email.pk) is False
    finally:
        controller.stop()

    [record] = [r for r in caplog.records if r.name == "core.outbox.email"]
    assert record.getMessage() == f"email {email.pk} attempt 1 failed: SMTPRecipientsRefused "
    assert EMAIL not in caplog.text


def test_no_handler_sees_a_record_before_the_mask():
    """Every handler in the configuration masks: Django's defaults (a debug console and mail
    to ADMINS, attached to the "django" logger) are replaced."""
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    unmasked = [
        (logger.name, handler)
        for logger in loggers
        for handler in getattr(logger, "handlers", [])
        if not any(isinstance(f, MaskSecretsFilter) for f in handler.filters)
        and not type(handler).__module__.startswith("_pytest")
        and not isinstance(handler, logging.NullHandler)
        and not logger.name.startswith("gunicorn")
    ]
    assert unmasked == []
