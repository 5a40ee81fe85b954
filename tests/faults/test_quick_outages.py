"""Redis down, in process: the rate-limited public pages and the API count requests in the
Redis cache, and without it they must still answer (found by the Redis outage test: every
customer page was a 500); a task the broker refused is left for the next sweep. PostgreSQL
refusing connections, in process: pages and the API answer 503 with ``Retry-After`` and say
the last step was not saved."""

import contextlib

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from cancellations import links
from core.enums import ApiScope, EmailStatus
from core.outbox import email as email_outbox
from core.services import api_key_create
from tests.cancellations.conftest import defaults, reason  # noqa: F401 - a fixture
from tests.conftest import free_port
from tests.factories import make_subscription
from tests.faults.conftest import publishing_to

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": UNREACHABLE}}
    settings.RATELIMIT_ENABLE = True


def test_the_cancel_flow_answers_when_the_cache_is_unreachable(defaults, cache_down, client):  # noqa: F811
    subscription = make_subscription()
    token = links.make_token(purpose="cancel", payload={"s": subscription.pk})

    page = client.get(f"/cancel/{token}/")
    response = client.post(f"/cancel/{token}/reason/", {"reason": reason("moving").pk})

    assert page.status_code == 200
    assert (response.status_code, response["Location"]) == (303, f"/cancel/{token}/offers/")
    assert subscription.cancellation_cases.count() == 1


def test_the_api_answers_when_the_cache_is_unreachable(cache_down):
    _, key = api_key_create(name="billing", scopes=ApiScope.values)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert api.get("/api/v1/exit-reasons/").status_code == 200


def test_an_email_the_broker_refused_is_left_for_the_next_sweep_at_once(
    django_capture_on_commit_callbacks,
):
    with publishing_to(UNREACHABLE), django_capture_on_commit_callbacks(execute=True):
        email = email_outbox.email_queue(
            dedupe_key="k", kind="test", to_email="ole@example.com", subject="Takk", body_text="Hei"
        )

    email.refresh_from_db()
    assert (email.status, email.enqueued_at) == (EmailStatus.PENDING, None)
    with publishing_to(UNREACHABLE), django_capture_on_commit_callbacks(execute=True):
        assert email_outbox.email_sweep() == [email.pk]  # not only after the requeue window
    email.refresh_from_db()
    assert email.enqueued_at is None  # refused again: still waiting for the next sweep


@contextlib.contextmanager
def database_refusing():
    """The database refuses new connections (nothing listens where it is looked for)."""
    settings_dict = connection.settings_dict
    port = settings_dict["PORT"]
    connection.close()
    settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        settings_dict["PORT"] = port


@pytest.mark.django_db(transaction=True)
def test_a_page_answers_503_and_says_the_step_was_not_saved_while_the_database_refuses(
    defaults,  # noqa: F811
):
    subscription = make_subscription()
    token = links.make_token(purpose="cancel", payload={"s": subscription.pk})
    browser = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="sv")

    with database_refusing():
        page = browser.get(f"/cancel/{token}/")
        api = Client(
            raise_request_exception=False, HTTP_AUTHORIZATION="Bearer tack_0000_secret"
        ).post("/api/v1/cancellations/", {})

    assert (page.status_code, page["Retry-After"]) == (503, "30")
    assert "ditt senaste steg sparades inte" in page.content.decode()
    assert (api.status_code, api["Retry-After"]) == (503, "30")
    assert api.json() == {
        "detail": "Our database is not answering at the moment, so your last step was not "
        "saved. Please try again in a minute.",
        "code": "database_unavailable",
    }
