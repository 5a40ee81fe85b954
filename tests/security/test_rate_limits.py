"""Every public token page answers 429 with a clear page in the customer's language once an
address passes the limit (120 a minute); other addresses are unaffected. The admin login
locks out after repeated failures (django-axes)."""

import pytest
from django.urls import reverse

from tests.helpers import address_with_a_fresh_window

pytestmark = pytest.mark.django_db

LIMIT = 120
TOO_MANY = {
    "en": "Too many requests",
    "sv": "För många förfrågningar",
    "da": "For mange forespørgsler",
    "nb": "For mange forespørsler",
}

PAGES = {
    "cancel flow": ("cancellations:entry", "cancel_token"),
    "cancel flow, done": ("cancellations:done", "cancel_token"),
    "undo": ("cancellations:undo", "undo_token"),
    "come back": ("winback:comeback", "comeback_token"),
    "unsubscribe": ("winback:unsubscribe", "unsubscribe_token"),
}


@pytest.fixture
def limits_on(settings):
    settings.RATELIMIT_ENABLE = True


@pytest.mark.parametrize("page", PAGES)
def test_token_page_answers_429_in_the_customers_language(client, customer_a, limits_on, page):
    name, token_field = PAGES[page]
    path = reverse(name, args=[getattr(customer_a, token_field)])
    address = address_with_a_fresh_window()

    statuses = [client.get(path, REMOTE_ADDR=address).status_code for _ in range(LIMIT)]
    blocked = client.get(path, REMOTE_ADDR=address)

    assert set(statuses) <= {200, 302, 303}, statuses
    assert blocked.status_code == 429
    assert blocked["Content-Type"].startswith("text/html")
    assert blocked["Content-Language"] == "sv"  # customer A's language
    assert TOO_MANY["sv"] in blocked.content.decode()
    assert "Content-Security-Policy" in blocked
    # An explicit choice wins, as on the page itself; another address is not limited.
    chosen = client.get(path + "?lang=nb", REMOTE_ADDR=address)
    assert chosen.status_code == 429
    assert TOO_MANY["nb"] in chosen.content.decode()
    assert client.get(path, REMOTE_ADDR="10.255.0.1").status_code in (200, 302, 303)


def test_a_forged_token_is_limited_too_and_answered_in_the_browsers_language(
    client, customer_a, limits_on
):
    path = reverse("winback:unsubscribe", args=[customer_a.unsubscribe_token[:-4] + "AAAA"])
    address = address_with_a_fresh_window()

    statuses = {client.get(path, REMOTE_ADDR=address).status_code for _ in range(LIMIT)}
    blocked = client.get(path, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="da")

    assert statuses == {400}
    assert blocked.status_code == 429
    assert TOO_MANY["da"] in blocked.content.decode()


def test_posts_count_against_the_same_limit(client, customer_b, limits_on):
    path = reverse("winback:unsubscribe", args=[customer_b.unsubscribe_token])
    address = address_with_a_fresh_window()

    for _ in range(LIMIT):
        client.get(path, REMOTE_ADDR=address)
    blocked = client.post(path, REMOTE_ADDR=address)

    assert blocked.status_code == 429
    assert TOO_MANY["da"] in blocked.content.decode()
    customer_b.customer.refresh_from_db()
    from winback.services import is_suppressed

    assert not is_suppressed(customer_b.customer)  # the blocked POST did nothing


def test_admin_login_locks_out_with_a_clear_page_and_spares_other_accounts(
    client, manager, agent, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/admin/login/", {"username": "manager", "password": "wrong"})
        assert response.status_code == 200  # the ordinary "wrong password" form
    assert client.post("/admin/login/", {"username": "manager", "password": "x"}).status_code == 429

    locked = client.post(
        "/admin/login/", {"username": "manager", "password": "correct horse battery staple"}
    )

    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Too many failed sign-ins" in text
    assert "ask a manager to unlock it" in text
    assert "_auth_user_id" not in client.session
    # The lockout is per account and address: the agent still signs in.
    other = client.post(
        "/admin/login/",
        {"username": "agent", "password": "correct horse battery staple", "next": "/admin/"},
    )
    assert other.status_code == 302
    assert client.session["_auth_user_id"] == str(agent.pk)


def test_a_manager_unlocks_a_locked_out_colleague(client, manager, agent, settings):
    """The lockout page says "ask a manager to unlock it": a manager can."""
    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "agent", "password": "wrong"})
    attempt = AccessAttempt.objects.get(username="agent")
    manager_client = type(client)()
    manager_client.force_login(manager)

    response = manager_client.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="agent").exists()
    signed_in = client.post(
        "/admin/login/",
        {"username": "agent", "password": "correct horse battery staple", "next": "/admin/"},
    )
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(agent.pk)
