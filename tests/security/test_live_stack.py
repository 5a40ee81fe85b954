"""The security rules hold on a live stack as it runs in production: gunicorn with
``config.settings`` and DEBUG off, a real Celery worker, the production outbound rules.

What the unit tests show one rule at a time, here over HTTP against the real processes:
the response headers, an error page without internals, an API key doing only what its
scopes allow, a webhook URL on this machine never receiving a request (refused at delivery,
with a generic reason in the log), a forged ``X-Forwarded-For`` not escaping the rate limit,
staff pages closed to a customer and to an agent where the role says so, and log lines
without the customers' addresses, phones or tokens.
"""

import json
import re
import time
import urllib.request
from collections import Counter

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from cancellations import links
from cancellations.models import CancellationCase, ExitReason
from core.enums import ApiScope, WebhookDeliveryStatus
from core.models import WebhookAttempt, WebhookDelivery
from core.services import api_key_create
from tests.cancellations.conftest import defaults  # noqa: F401 - a fixture
from tests.factories import make_agent, make_endpoint, make_plan, make_subscription
from tests.faults.conftest import (  # noqa: F401 - broker, private_redis, receiver, smtp, _worker_parents: fixtures
    Browser,
    _worker_parents,
    broker,
    customer_ip,
    private_redis,
    receiver,
    run_database_url,
    smtp,
    start_web,
    start_worker,
    stop_process,
    tack_env,
    walk_cancel_flow,
)
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
TRACES = ("Traceback", "DEBUG = True", "django.db", "psycopg2", "SECRET_KEY", "settings.py")


def request(url: str, *, method: str = "GET", headers: dict | None = None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        sent.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(sent, timeout=15) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def sign_in(base: str, username: str, password: str) -> Browser:
    browser = Browser()
    page = browser.get(f"{base}/admin/login/")
    signed_in = browser.post(
        f"{base}/admin/login/?next=/admin/", {"username": username, "password": password}, page
    )
    assert signed_in.status == 200 and "/admin/login/" not in signed_in.url, signed_in.text[:300]
    return browser


def test_the_security_rules_hold_on_a_live_stack_with_debug_off(
    defaults,  # noqa: F811
    broker,  # noqa: F811
    smtp,  # noqa: F811
    receiver,  # noqa: F811
    tmp_path,
):
    plan = make_plan(code="standard", price="199.00", rank=2)
    customer = make_subscription(
        plan=plan, email="greta.live@example.com", phone="+46701234567", locale="sv"
    )
    other = make_subscription(plan=plan, email="olle.other@example.com")
    assisted = make_subscription(plan=plan, email="stina.assisted@example.com")
    # Saved before the rules existed (straight into the table): delivery must refuse it.
    make_endpoint(url=receiver.url)
    _, reader = api_key_create(name="reports", scopes=[ApiScope.READ])
    agent = make_agent(username="agent-live")
    # Hashed as production hashes it (the test settings use a fast hasher it does not know).
    agent.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    agent.save(update_fields=["password"])
    token = links.make_token(purpose="cancel", payload={"id": customer.pk})
    moving = ExitReason.objects.get(code="moving")

    env = tack_env(
        database_url=run_database_url(),
        redis_url=broker.url,
        smtp_port=smtp.port,
        LOG_LEVEL="INFO",
        TACK_WEBHOOK_TIMEOUT_SECONDS="2",
        # Plain http is let through so that the address rule is what refuses the receiver
        # on 127.0.0.1; no address is on the allow list, as in production.
        TACK_OUTBOUND_ALLOW_HTTP="1",
        TACK_OUTBOUND_ALLOWED_ADDRESSES="",
    )
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    web = start_web(env, web_log)
    worker = start_worker(env, worker_log)
    try:
        # Headers on a customer page; the page itself in the customer's language.
        status, headers, html = request(f"{web.url}/cancel/{token}/")
        assert status == 200
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "form-action 'self'" in policy and "unsafe-eval" not in policy
        assert 'lang="sv"' in html

        # A link edited to name another customer, an unknown page, a broken API body:
        # clear answers without internals.
        # Another customer's payload under this customer's signature.
        other_token = links.make_token(purpose="cancel", payload={"id": other.pk})
        forged = other_token.split(":", 1)[0] + ":" + token.split(":", 1)[1]
        assert forged not in (token, other_token)
        for url, expected in [
            (f"{web.url}/cancel/{forged}/", 400),
            (f"{web.url}/no/such/page/", 404),
        ]:
            status, _, body = request(url)
            assert status == expected, (url, status)
            assert not [trace for trace in TRACES if trace in body], body[:500]
        status, _, body = request(
            f"{web.url}/api/v1/customers/{customer.customer.external_id}/",
            headers={"Authorization": f"Bearer {reader}"},
        )
        assert status == 200 and json.loads(body)["email"] == "greta.live@example.com"

        # A key without the privacy scope cannot erase; no key, no data.
        status, _, body = request(
            f"{web.url}/api/v1/customers/{customer.customer.external_id}/erase/",
            method="POST",
            headers={"Authorization": f"Bearer {reader}"},
            body={},
        )
        assert status == 403 and "greta" not in body, body
        status, _, body = request(f"{web.url}/api/v1/customers/{customer.customer.external_id}/")
        assert status == 401 and "greta" not in body

        # Staff pages: none for a customer's browser, the dashboard and webhooks not for an
        # agent (403), the customers for an agent.
        anonymous = Browser().get(f"{web.url}/admin/retention/dashboard/")
        assert "/admin/login/" in anonymous.url
        desk = sign_in(web.url, "agent-live", PASSWORD)
        assert desk.get(f"{web.url}/admin/retention/dashboard/").status == 403
        assert desk.get(f"{web.url}/admin/core/webhookendpoint/").status == 403
        assert desk.get(f"{web.url}/admin/subscriptions/customer/").status == 200

        # The agent makes a cancel link for a customer on the phone: logged with the reason,
        # and the cancellation through it names the agent (web, assisted).
        changelist = desk.get(f"{web.url}/admin/subscriptions/subscription/")
        made = desk.post(
            f"{web.url}/admin/subscriptions/subscription/",
            {
                "action": "create_cancel_links",
                "_selected_action": str(assisted.pk),
                "reason": "asked by phone, #4711",
            },
            changelist,
        )
        assert made.status == 200, made.text[:500]
        staff_token = re.search(r"/cancel/([^/<\s]+)/", made.text)[1]
        walk = walk_cancel_flow(
            web.url,
            staff_token,
            reason_id=moving.pk,
            accept=False,
            deadline=time.monotonic() + 30,
            source_ip=customer_ip(3),
        )
        assert walk.outcome == "done" and not walk.failed(), walk.responses
        case = CancellationCase.objects.get(subscription=assisted)
        assert (case.channel, case.actor, case.assisted) == ("web", agent, True)
        assert LogEntry.objects.filter(
            user=agent, object_id=str(assisted.pk), change_message__contains="#4711"
        ).exists()

        # The customer cancels; the worker sends the receipts (the assisted customer's and
        # this one's, one each) and refuses the webhooks to this machine's own address.
        walk = walk_cancel_flow(
            web.url, token, reason_id=moving.pk, accept=False, deadline=time.monotonic() + 30
        )
        assert walk.outcome == "done" and not walk.failed(), walk.responses
        wait_until(lambda: len(smtp.messages) >= 2, timeout=30)
        wait_until(
            lambda: (
                WebhookDelivery.objects.exists()
                and not WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING)
                .exclude(attempts__isnull=False)
                .exists()
            ),
            timeout=30,
        )
        time.sleep(1)  # a last chance for a request (or a third email) to arrive that must not
        assert receiver.posts == []
        assert sorted(to.addr_spec for m in smtp.messages for to in m["To"].addresses) == [
            "greta.live@example.com",
            "stina.assisted@example.com",
        ]
        assert not WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.DELIVERED).exists()
        errors = set(WebhookAttempt.objects.values_list("error", flat=True))
        assert errors == {"Refused: the address is not on the public internet"}

        # A forged X-Forwarded-For from a client that is not a trusted proxy does not
        # escape the per-address limit on the customer pages.
        # (The limit counts in fixed one-minute windows: if one ends mid-way, the next
        # fills up too, so 242 requests always cross 120 in one window.)
        limited = []
        for n in range(242):
            status, _, _ = request(
                f"{web.url}/cancel/{token}/done/",
                headers={"X-Forwarded-For": f"203.0.113.{n % 250}"},
            )
            limited.append(status)
            if status == 429:
                break
        assert limited[-1] == 429 and set(limited[:-1]) == {200}, Counter(limited)
        # ...while another address still gets through.
        assert (
            Browser(source_ip=customer_ip(7)).get(f"{web.url}/cancel/{token}/done/").status == 200
        )
    finally:
        stop_process(worker)
        stop_process(web.process)

    # What the processes logged: no email address, phone number or signed token.
    logged = web_log.read_text() + worker_log.read_text()
    assert logged.strip(), "the processes logged nothing: the check would prove nothing"
    for secret in ["greta.live@example.com", "+46701234567", "701234567", token, reader]:
        assert secret not in logged, secret
    assert not re.search(r"[\w.+-]+@example\.com", logged)
