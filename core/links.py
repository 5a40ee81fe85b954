"""Signed, expiring links for customers (django.core.signing), and absolute URLs for emails."""

from datetime import timedelta

from django.conf import settings
from django.core import signing


class LinkInvalid(Exception):
    """The token was tampered with, truncated or made for another purpose."""


class LinkExpired(Exception):
    """The token is genuine but older than its lifetime."""


def make_token(*, purpose: str, payload: dict) -> str:
    return signing.dumps(payload, salt=f"tack.{purpose}", compress=True)


def read_token(*, purpose: str, token: str, max_age: timedelta) -> dict:
    if len(token) > 500:
        raise LinkInvalid
    try:
        payload = signing.loads(token, salt=f"tack.{purpose}", max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    if not isinstance(payload, dict):
        raise LinkInvalid
    return payload


def absolute_url(path: str) -> str:
    return f"{settings.TACK_PUBLIC_BASE_URL}{path}"
