import pytest
from django.db import DatabaseError
from django.test import override_settings

from core import health

pytestmark = pytest.mark.django_db


def test_healthz_tells_the_public_only_ok_or_not(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_reports_database_and_broker_to_staff(client, agent):
    client.force_login(agent)
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "detail": "postgresql"}
    assert body["broker"]["ok"] is True
    assert body["broker"]["detail"].startswith("redis, maxmemory-policy=")


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_broker_down_is_degraded_but_200_details_to_staff_and_the_log(
    client, manager, caplog
):
    public = client.get("/healthz")
    client.force_login(manager)
    staff = client.get("/healthz")

    assert (public.status_code, public.json()) == (200, {"status": "degraded"})
    assert staff.json()["status"] == "degraded"
    assert staff.json()["broker"]["ok"] is False
    assert "Connection" in caplog.text and "health degraded" in caplog.text


def test_healthz_database_down_is_503(client, monkeypatch):
    class BrokenCursor:
        def __enter__(self):
            raise DatabaseError("connection refused")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (503, {"status": "down"})
    assert "connection refused" not in response.content.decode()
