"""Signed, expiring links for customers (django.core.signing), and absolute URLs for emails.

Each kind of link (cancel, undo, unsubscribe, come-back) signs with its own purpose as the
salt, and every kind names its object the same way (``{"id": pk}``): a token is only read
as the kind it was made for because of the signature, never because its payload happens to
differ. ``tests/core/test_links.py`` posts every kind to every other kind's page with the
same id; without the purpose in the salt those posts would act.
"""

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


def token_id(payload: dict, legacy_key: str):
    """The id a token names: ``id``, or the key its kind used before all kinds shared one
    (links already sent keep working)."""
    return payload.get("id", payload.get(legacy_key))


def absolute_url(path: str) -> str:
    return f"{settings.TACK_PUBLIC_BASE_URL}{path}"
