"""Health of the parts Tack depends on (read-only checks)."""

from dataclasses import asdict, dataclass

import redis
from django.conf import settings
from django.db import DatabaseError, connection


@dataclass(frozen=True)
class Check:
    ok: bool | None
    detail: str


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Check(False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return Check(True, connection.vendor)


def broker_check() -> Check:
    if not settings.REDIS_URL:
        return Check(None, "not configured: tasks run eagerly in the web process")
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "unknown")
    except redis.RedisError as exc:
        return Check(False, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        client.close()
    return Check(True, f"redis, maxmemory-policy={policy}")


def health_report() -> tuple[bool, dict]:
    database, broker = database_check(), broker_check()
    healthy = bool(database.ok)
    status = "ok" if healthy and broker.ok is not False else ("degraded" if healthy else "down")
    return healthy, {"status": status, "database": asdict(database), "broker": asdict(broker)}
