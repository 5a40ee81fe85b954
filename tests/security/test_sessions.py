"""Staff sessions end after SESSION_COOKIE_AGE of inactivity; each request extends them."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = pytest.mark.django_db


def signed_in(client, user) -> Session:
    response = client.post(
        "/admin/login/",
        {"username": user.username, "password": "correct horse battery staple", "next": "/admin/"},
    )
    assert response.status_code == 302
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_an_idle_staff_session_is_signed_out(client, manager):
    session = signed_in(client, manager)
    assert client.get("/admin/").status_code == 200
    # Idle for longer than SESSION_COOKIE_AGE: the store has let the session lapse.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get("/admin/retention/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_active_staff_session_is_extended_by_each_request(client, manager):
    session = signed_in(client, manager)
    almost_over = timezone.now() + timedelta(seconds=30)
    Session.objects.filter(pk=session.pk).update(expire_date=almost_over)

    response = client.get("/admin/")

    assert response.status_code == 200
    extended = Session.objects.get(pk=session.pk).expire_date
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((extended - expected).total_seconds()) < 30
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_sessions_last_hours_not_days():
    assert settings.SESSION_COOKIE_AGE <= 8 * 60 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
