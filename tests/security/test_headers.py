"""The Content-Security-Policy and the other security headers on every kind of page:
customer pages, the admin, the dashboard and the API docs. No page of ours relies on an
inline script or an inline style, so the policy can forbid both."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from cancellations.links import cancel_link
from tests.factories import make_plan, make_subscription

pytestmark = pytest.mark.django_db

REQUIRED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'self'",
    "object-src": "'none'",
}

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.IGNORECASE)


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


def assert_strict_policy(response):
    directives = policy(response)
    for name, value in REQUIRED_DIRECTIVES.items():
        assert directives[name] == value, (name, directives.get(name))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["style-src"] == "'self'"
    html = response.content.decode()
    assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html).group(0)
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html).group(0)
    assert not EVENT_HANDLER.search(html), EVENT_HANDLER.search(html).group(0)


def customer_page_paths(person) -> list[str]:
    return [
        reverse("cancellations:entry", args=[person.cancel_token]),
        reverse("cancellations:done", args=[person.cancel_token]),
        reverse("cancellations:undo", args=[person.undo_token]),
        reverse("winback:comeback", args=[person.comeback_token]),
        reverse("winback:unsubscribe", args=[person.unsubscribe_token]),
        reverse("cancellations:entry", args=["not-a-token"]),  # the friendly 400
    ]


def test_customer_pages_send_a_strict_policy(client, customer_a):
    # A customer who has not cancelled yet: the first page with its reasons, and the page
    # that confirms a cancellation without one.
    url, _ = cancel_link(subscription=make_subscription(plan=make_plan()))
    first = url.removeprefix("http://testserver")
    for path in [first, first + "leave/", *customer_page_paths(customer_a)]:
        response = client.get(path)
        assert response.status_code in (200, 400), path
        assert_strict_policy(response)
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_admin_pages_and_dashboard_send_a_strict_policy(client, manager, customer_a):
    assert_strict_policy(client.get("/admin/login/"))
    client.force_login(manager)
    paths = [
        "/admin/",
        "/admin/subscriptions/customer/",
        f"/admin/subscriptions/customer/{customer_a.customer.pk}/change/",
        f"/admin/cancellations/cancellationcase/{customer_a.case.pk}/change/",
        "/admin/desk/callbackrequest/",
        "/admin/core/webhookendpoint/add/",
        reverse("retention-dashboard"),
        "/admin/retention/voice/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict_policy(response)


def test_api_docs_load_their_script_from_our_origin(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert_strict_policy(response)
    [init_script] = re.findall(r'<script src="([^"]*\?script[^"]*)"', response.content.decode())
    script = client.get(init_script.replace("&amp;", "&"))
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    for src in re.findall(r'<script src="(/static/[^"]+)"', response.content.decode()):
        assert client.get(src).status_code == 200, src


def test_error_and_json_answers_carry_the_policy_too(client, api):
    assert "frame-ancestors 'none'" in client.get("/no-such-page/")["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in api.get("/api/v1/customers/")["Content-Security-Policy"]


def test_no_template_of_a_page_has_an_inline_style():
    """The README promised styles from our own origin only while the policy allowed
    'unsafe-inline' styles; emails are not pages (mail clients need inline styles)."""
    root = Path(__file__).resolve().parents[2]
    templates = [
        path
        for path in root.glob("*/**/templates/**/*.html")
        if ".venv" not in path.parts and "emails" not in path.parts
    ]
    assert len(templates) > 20
    offenders = [str(path) for path in templates if INLINE_STYLE.search(path.read_text())]
    assert offenders == []
