"""Platform writes: API keys and idempotent API answers (the outbox is ``core.outbox``)."""

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.enums import ApiScope
from core.models import ApiKey, IdempotencyRecord

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "tack"


def _hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, name: str, scopes: list[str], expires_at=None, created_by=None
) -> tuple[ApiKey, str]:
    """Create a key with ``scopes`` (``ApiScope`` values) and return it with its secret,
    which is shown once and never stored."""
    unknown = set(scopes) - set(ApiScope.values)
    if unknown:
        raise ValueError(f"Unknown API scopes: {sorted(unknown)}")
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=_hash_api_key(raw_key),
        scopes=[scope for scope in ApiScope.values if scope in scopes],
        expires_at=expires_at,
        created_by=created_by,
    )
    return api_key, raw_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active (not revoked, not expired) key matching ``raw_key``; notes when it was last
    used (once a minute at most)."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.filter(prefix=parts[1], revoked_at=None).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, _hash_api_key(raw_key)):
        return None
    if not api_key.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


# --- Idempotency -------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The key was used before with a different request."""


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any
    replayed: bool


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    api_key: ApiKey,
    key: str,
    fingerprint: str,
    call: Callable[[], tuple[int, Any]],
) -> StoredResponse:
    """Run ``call`` once per (api key, idempotency key) and store its answer.

    The record is inserted in the same transaction as the call's writes, so a concurrent
    request with the same key waits on the unique index and then replays the stored answer;
    a call that raises leaves no record, so the client may retry it.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            record = None
        if record is None:
            existing = IdempotencyRecord.objects.get(api_key=api_key, key=key)
            if existing.fingerprint != fingerprint:
                raise IdempotencyConflict
            return StoredResponse(existing.response_status, existing.response_body, True)
        status, body = call()
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            response_status=status, response_body=body
        )
        return StoredResponse(status, body, False)


def idempotency_records_purge(*, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(hours=settings.TACK_IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
