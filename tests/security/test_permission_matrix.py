"""Who may open what: every URL pattern of the project is in one of the tables below, and
each is tried with the personas that must be refused.

- Staff pages (the admin, its custom pages, the dashboard and its CSV): anonymous and a
  signed-in non-staff user are sent to the login page; a staff user without a role and an
  agent get 403 wherever their role does not reach; a manager gets the page (so a refusal is
  never a broken link in disguise).
- API endpoints: no key, a wrong key and a staff session are refused with a JSON 401; a key
  with every scope but the one the operation needs gets a 403 naming that scope; the right
  key gets an answer.
- Customer pages: the signed token is the only credential. Another customer's object is out of
  reach: a token re-signed over customer B's ids, a token made for another page, a truncated
  token and customer B's case posted through customer A's link are all refused, and nothing
  of B's changes.

``test_every_url_pattern_is_in_the_matrix`` walks the URL resolver: a new pattern fails it
until it gets a row here.
"""

import dataclasses
import re
import uuid
from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator

from cancellations.enums import CaseOutcome
from cancellations.models import CancellationCase
from core.api_auth import required_scope
from core.enums import ApiScope
from core.models import ApiKey, BillingCommand, OutboundEmail, WebhookDelivery
from core.roles import AGENTS
from core.services import api_key_create
from desk.enums import CallbackSource
from desk.models import CallbackRequest
from privacy import services as privacy_services
from subscriptions.actors import Actor
from subscriptions.enums import SubscriptionStatus
from subscriptions.models import SubscriptionEvent
from tests.factories import make_endpoint, make_user
from winback import services as winback_services
from winback.models import Comeback, Suppression

pytestmark = pytest.mark.django_db

LOGIN = "login"  # a 302 to the admin's login page

# --- the admin's model pages -------------------------------------------------------------
# What a service agent may do with each registered model: v = view (list, page, history),
# a = add. Agents never delete, and staff without a role reach none of these. Managers reach
# every model but the user accounts (superusers only).
AGENT_MAY = {
    "auth.user": "",
    "auth.group": "",
    "axes.accessattempt": "",
    "axes.accesslog": "",
    "axes.accessfailurelog": "",
    "core.apikey": "",
    "core.outboundemail": "",
    "core.webhookendpoint": "",
    "core.webhookdelivery": "",
    "core.billingcommand": "",
    "subscriptions.customer": "v",
    "subscriptions.plan": "v",
    "subscriptions.subscription": "v",
    "subscriptions.subscriptionevent": "v",
    "cancellations.exitreason": "",
    "cancellations.offerrule": "",
    "cancellations.cancellationcase": "v",
    "desk.callbackrequest": "v",
    "winback.lostcustomer": "v",
    "winback.campaign": "",
    "winback.outreach": "v",
    "winback.comeback": "v",
    "winback.suppression": "",
    "privacy.datarightslog": "",
}
MANAGER_REFUSED = {"auth.user", "auth.group"}
MODEL_ROUTES = ["", "add/", "<path:object_id>/history/", "<path:object_id>/delete/"]
MODEL_ROUTES += ["<path:object_id>/change/", "<path:object_id>/"]
MODEL_ROUTES += ["^([^/]+)/history/([^/]+)/$"]  # django-simple-history: one past version

# --- the other staff pages ---------------------------------------------------------------
# name: (method, url, {persona: expected status}); personas not named get the default:
# LOGIN for anonymous and outsider, 403 for staff_no_role and agent, 200 for manager.


@dataclass
class Row:
    method: str
    url: str
    expect: dict


def staff_pages(w) -> dict[str, list[Row]]:
    customer, case, outreach = w.a.customer, w.a.case, w.a.outreach
    dashboard = reverse("retention-dashboard")
    return {
        "retention-dashboard": [
            Row("get", dashboard, {}),
            Row("get", dashboard + "?csv=cases_by_reason", {}),  # the CSV download
        ],
        "retention-voice": [
            Row("get", reverse("retention-voice") + "?q=cheaper", {}),
            Row("get", reverse("retention-voice") + "?csv=1", {}),  # the CSV download
        ],
        "admin:privacy_customer_export": [
            Row("get", reverse("admin:privacy_customer_export", args=[customer.pk]), {}),
        ],
        "admin:privacy_customer_erase": [
            Row("get", reverse("admin:privacy_customer_erase", args=[customer.pk]), {}),
        ],
        "admin:cancellations_interview": [
            Row(
                "get",
                reverse("admin:cancellations_interview") + f"?subscription={case.subscription_id}",
                {"agent": 200},
            ),
        ],
        "admin:desk_callback_take_next": [
            Row(
                "post",
                reverse("admin:desk_callback_take_next"),
                {"agent": 302, "manager": 302},
            ),
        ],
        "admin:winback_outreach_call": [
            # An email outreach is no call: 404 for those allowed to make calls.
            Row(
                "get",
                reverse("admin:winback_outreach_call", args=[outreach.pk]),
                {"agent": 404, "manager": 404},
            ),
        ],
        "admin:winback_outreach_call_for_callback": [
            Row(
                "get",
                reverse("admin:winback_outreach_call_for_callback", args=[w.callback.pk]),
                {"agent": 404, "manager": 404},  # a cancellation callback, not a win-back call
            ),
        ],
        "admin:index": [Row("get", "/admin/", {"staff_no_role": 200, "agent": 200})],
        "admin:app_list": [
            Row("get", "/admin/winback/", {"staff_no_role": 404, "agent": 200}),
            Row("get", "/admin/core/", {"staff_no_role": 404, "agent": 404}),
        ],
        "admin:password_change": [
            Row("get", "/admin/password_change/", {"staff_no_role": 200, "agent": 200}),
        ],
        "admin:password_change_done": [
            Row("get", "/admin/password_change/done/", {"staff_no_role": 200, "agent": 200}),
        ],
        "admin:jsi18n": [Row("get", "/admin/jsi18n/", {"staff_no_role": 200, "agent": 200})],
        "admin:autocomplete": [
            # Only fields of models the user may view; the manager's search works.
            Row(
                "get",
                "/admin/autocomplete/?app_label=cancellations&model_name=cancellationcase"
                "&field_name=customer&term=a",
                {"staff_no_role": 403, "agent": 200},
            ),
        ],
        "admin:view_on_site": [
            Row(
                "get",
                f"/admin/r/{w.customer_content_type}/{customer.pk}/",
                {"staff_no_role": 404, "agent": 404, "manager": 404},  # no public object pages
            ),
        ],
        "admin:auth_user_password_change": [
            Row("get", f"/admin/auth/user/{w.manager.pk}/password/", {"manager": 403}),
        ],
        # The admin's catch-all: unknown admin paths (404 for staff, login for the rest).
        "admin:catch_all": [
            Row("get", "/admin/no-such-page/", {"staff_no_role": 404, "agent": 404, "manager": 404})
        ],
        # Public by design: the login, logout, health and the API's description.
        "admin:login": [
            Row(
                "get",
                "/admin/login/",
                {"anonymous": 200, "outsider": 200} | dict.fromkeys(STAFF, 302),
            )
        ],
        "admin:logout": [
            Row(
                "post",
                "/admin/logout/",
                {"anonymous": 302, "outsider": 302} | dict.fromkeys(STAFF, 200),
            )
        ],
        "healthz": [Row("get", "/healthz", dict.fromkeys(PERSONAS, 200))],
        # Stripe's webhooks: only a valid Stripe-Signature counts, whoever posts.
        "stripe-webhook": [
            Row("post", "/billing/stripe/webhook/", dict.fromkeys(PERSONAS, 400)),
            Row("get", "/billing/stripe/webhook/", dict.fromkeys(PERSONAS, 405)),
        ],
        "api-schema": [Row("get", "/api/schema/", dict.fromkeys(PERSONAS, 200))],
        "api-docs": [Row("get", "/api/docs/", dict.fromkeys(PERSONAS, 200))],
    }


PERSONAS = ["anonymous", "outsider", "staff_no_role", "agent", "manager"]
STAFF = PERSONAS[2:]
DEFAULT = {"anonymous": LOGIN, "outsider": LOGIN, "staff_no_role": 403, "agent": 403}
DEFAULT["manager"] = 200

# --- the API ---------------------------------------------------------------------------
# name: (method, path, body, status with the right key)


def api_rows(w) -> dict[str, tuple[str, str, dict | None, int]]:
    sub = w.a.subscription
    return {
        "api-customer-list": ("get", "/api/v1/customers/", None, 200),
        "api-customer-detail": ("get", f"/api/v1/customers/{sub.customer.external_id}/", None, 200),
        "api-customer-detail PUT": (
            "put",
            f"/api/v1/customers/{sub.customer.external_id}/",
            {},
            400,
        ),
        "api-subscription-list": ("get", "/api/v1/subscriptions/", None, 200),
        "api-subscription-detail": ("get", f"/api/v1/subscriptions/{sub.external_id}/", None, 200),
        "api-subscription-detail PUT": (
            "put",
            f"/api/v1/subscriptions/{sub.external_id}/",
            {},
            400,
        ),
        "api-exit-reason-list": ("get", "/api/v1/exit-reasons/", None, 200),
        "api-cancel-link": (
            "post",
            f"/api/v1/subscriptions/{sub.external_id}/cancel-link/",
            {},
            200,
        ),
        "api-case-start": ("post", "/api/v1/cancellations/", {}, 400),
        "api-case-detail": ("get", f"/api/v1/cancellations/{w.a.case.pk}/", None, 200),
        "api-case-accept": ("post", f"/api/v1/cancellations/{w.a.case.pk}/accept/", {}, 400),
        # Declining a case already cancelled answers with the case, and changes nothing.
        "api-case-decline": ("post", f"/api/v1/cancellations/{w.a.case.pk}/decline/", {}, 200),
        "api-customer-export": (
            "get",
            f"/api/v1/customers/{sub.customer.external_id}/export/",
            None,
            200,
        ),
        "api-customer-erase": (
            "post",
            f"/api/v1/customers/{w.b.customer.external_id}/erase/",
            {},
            200,
        ),
        "api-metrics-summary": (
            "get",
            "/api/v1/metrics/summary?from=2026-01-01&to=2026-12-31",
            None,
            200,
        ),
    }


# --- the customer pages ----------------------------------------------------------------
# name: (token field, method, purpose of its token)
CUSTOMER_PAGES = {
    "cancellations:entry": ("cancel_token", "get", "cancel"),
    "cancellations:reason": ("cancel_token", "post", "cancel"),
    "cancellations:leave": ("cancel_token", "post", "cancel"),
    "cancellations:offers": ("cancel_token", "get", "cancel"),
    "cancellations:decide": ("cancel_token", "post", "cancel"),
    "cancellations:done": ("cancel_token", "get", "cancel"),
    "cancellations:undo": ("undo_token", "post", "undo"),
    "winback:comeback": ("comeback_token", "post", "comeback"),
    "winback:unsubscribe": ("unsubscribe_token", "post", "unsubscribe"),
}


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    a: object
    b: object
    manager: object
    callback: CallbackRequest
    customer_content_type: int
    users: dict
    objects: dict
    clients: dict = dataclasses.field(default_factory=dict)  # persona → a client signed in as them


@pytest.fixture
def world(customer_a, customer_b, manager, agent, outsider):
    from django.contrib.contenttypes.models import ContentType

    staff_no_role = make_user("staff-no-role")
    callback = CallbackRequest.objects.create(
        customer=customer_a.customer,
        subscription=customer_a.subscription,
        source=CallbackSource.values[0],
        due_at=customer_a.case.opened_at,
    )
    api_key_create(name="matrix", scopes=ApiScope.values)
    endpoint = make_endpoint(url="http://127.0.0.1:9/hooks")
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=uuid.uuid4(),
        event_type="customer.unsubscribed",
        sequence=1,
        payload={},
    )
    BillingCommand.objects.create(
        subscription_id=customer_a.subscription.pk,
        ledger_event_id=customer_a.subscription.events.order_by("pk").first().pk,
        kind="cancelled",
        status="refused",
        last_error="HTTP 402: Your card was declined.",
    )
    AccessAttempt.objects.create(username="x", ip_address="10.0.0.1", failures_since_start=1)
    AccessLog.objects.create(username="x", ip_address="10.0.0.1")
    AccessFailureLog.objects.create(username="x", ip_address="10.0.0.1")
    winback_services.customer_unsubscribe(customer=customer_b.outreach.customer)
    winback_services.comeback_record(
        lost_customer=customer_a.outreach.lost_customer,
        outreach=customer_a.outreach,
        actor=Actor.customer(),
    )
    privacy_services.customer_data_export(customer=customer_a.customer, actor=Actor.system("t"))
    objects = {}
    for model in admin.site._registry:
        label = model._meta.label_lower
        objects[label] = model._default_manager.order_by("pk").first()
        assert objects[label] is not None, f"no {label} to open"
    return World(
        a=customer_a,
        b=customer_b,
        manager=manager,
        callback=callback,
        customer_content_type=ContentType.objects.get_for_model(customer_a.customer).pk,
        users={
            "anonymous": None,
            "outsider": outsider,
            "staff_no_role": staff_no_role,
            "agent": agent,
            "manager": manager,
        },
        objects=objects,
    )


def as_persona(client, world, persona):
    """A client of ``persona``'s own (anonymous: ``client``), signed in once and again only
    when a page signed it out (the logout row)."""
    user = world.users[persona]
    if user is None:
        client.logout()
        return client
    persona_client = world.clients.setdefault(persona, Client())
    if persona_client.session.get(SESSION_KEY) != str(user.pk):
        persona_client.force_login(user)
    return persona_client


# --- the tests ----------------------------------------------------------------------------


def walk(resolver, prefix="", namespace=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern, prefix + str(pattern.pattern), inner)
        else:
            assert isinstance(pattern, URLPattern)
            name = f"{namespace}{pattern.name}" if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern


def test_every_url_pattern_is_in_the_matrix():
    model_routes = {
        f"admin/{model._meta.app_label}/{model._meta.model_name}/{route}"
        for model in admin.site._registry
        for route in MODEL_ROUTES
    }
    assert {m._meta.label_lower for m in admin.site._registry} == set(AGENT_MAY)
    named = set(API_NAMES) | set(CUSTOMER_PAGES) | set(STAFF_PAGE_NAMES)
    missing = []
    for route, name, pattern in walk(get_resolver()):
        if route in model_routes:
            continue
        if name is None and pattern.callback.__name__ == "catch_all_view":
            name = "admin:catch_all"
        if name not in named:
            missing.append((route, name))
    assert not missing, f"URL patterns with no row in the permission matrix: {missing}"


STAFF_PAGE_NAMES = [
    "retention-dashboard",
    "retention-voice",
    "admin:privacy_customer_export",
    "admin:privacy_customer_erase",
    "admin:cancellations_interview",
    "admin:desk_callback_take_next",
    "admin:winback_outreach_call",
    "admin:winback_outreach_call_for_callback",
    "admin:index",
    "admin:app_list",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:autocomplete",
    "admin:view_on_site",
    "admin:auth_user_password_change",
    "admin:catch_all",
    "admin:login",
    "admin:logout",
    "healthz",
    "stripe-webhook",
    "api-schema",
    "api-docs",
]


API_NAMES = [
    "api-customer-list",
    "api-customer-detail",
    "api-subscription-list",
    "api-subscription-detail",
    "api-exit-reason-list",
    "api-cancel-link",
    "api-case-start",
    "api-case-detail",
    "api-case-accept",
    "api-case-decline",
    "api-customer-export",
    "api-customer-erase",
    "api-metrics-summary",
]


def test_staff_pages(client, world):
    wrong = []
    for name, rows in staff_pages(world).items():
        for row in rows:
            for persona in PERSONAS:
                expected = row.expect.get(persona, DEFAULT[persona])
                response = getattr(as_persona(client, world, persona), row.method)(row.url)
                if not answered(response, expected):
                    wrong.append((name, row.method, row.url, persona, response.status_code))
    assert set(staff_pages(world)) == set(STAFF_PAGE_NAMES)
    assert not wrong, wrong


def answered(response, expected) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and response["Location"].startswith("/admin/login/")
    return response.status_code == expected


ADMIN_MODEL_SHARDS = 4


# In shards, so that parallel workers share the work; together they cover every model.
@pytest.mark.slow
@pytest.mark.parametrize("shard", range(ADMIN_MODEL_SHARDS))
def test_admin_model_pages(client, world, shard):
    wrong = []
    models = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)
    for model in models[shard::ADMIN_MODEL_SHARDS]:
        label = model._meta.label_lower
        info = (model._meta.app_label, model._meta.model_name)
        obj = world.objects[label]
        urls = {
            "changelist": reverse("admin:{}_{}_changelist".format(*info)),
            "add": reverse("admin:{}_{}_add".format(*info)),
            "change": reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
            "history": reverse("admin:{}_{}_history".format(*info), args=[obj.pk]),
            "delete": reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]),
        }
        if hasattr(obj, "history"):
            version = obj.history.order_by("history_id").first().history_id
            urls["version"] = reverse(
                "admin:{}_{}_simple_history".format(*info), args=[obj.pk, version]
            )
        may = AGENT_MAY[label]
        for view, url in urls.items():
            allowed = (view == "add" and "a" in may) or (
                view in ("changelist", "change", "history", "version") and "v" in may
            )
            expect = {
                "anonymous": LOGIN,
                "outsider": LOGIN,
                "staff_no_role": 403,
                "agent": 200 if allowed else 403,
            }
            if view in ("changelist", "change", "version"):
                # The manager reaches these, so the refusals above are real ones.
                expect["manager"] = 403 if label in MANAGER_REFUSED else 200
            for persona, expected in expect.items():
                response = as_persona(client, world, persona).get(url)
                if not answered(response, expected):
                    wrong.append((url, persona, response.status_code, expected))
            if not allowed and view in ("delete", "add", "change"):
                # A refused POST leaves the row where it was.
                response = as_persona(client, world, "agent").post(url, {"post": "yes"})
                if response.status_code != 403:
                    wrong.append((url, "agent POST", response.status_code, 403))
                assert model._default_manager.filter(pk=obj.pk).exists(), url
    assert not wrong, wrong


def test_agents_cannot_reach_configuration_webhooks_privacy_or_the_dashboard():
    """The roles themselves, named: what the agent rows above rely on."""
    agent_codenames = set(
        Group.objects.get(name=AGENTS).permissions.values_list("codename", flat=True)
    )
    assert not agent_codenames & {
        "view_apikey",
        "view_webhookendpoint",
        "view_webhookdelivery",
        "view_billingcommand",
        "export_customer_data",
        "erase_customer_data",
        "view_dashboard",
        "view_datarightslog",
        "change_campaign",
    }


def test_api_endpoints(client, world, api_key):
    wrong = []
    before = snapshot()
    rows = api_rows(world)
    assert {name.split()[0] for name in rows} == set(API_NAMES)
    # Every operation of the OpenAPI description has its row (a new method on a URL too).
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (resolve(re.sub(r"{[^}]+}", "1", path)).url_name, method)
        for path, methods in schema["paths"].items()
        for method in methods
        if path.startswith("/api/v1/")
    }
    assert operations == {(name.split()[0], row[0]) for name, row in rows.items()}

    def call(method, path, body, **headers):
        if method == "get":
            return client.get(path, **headers)
        return getattr(client, method)(path, body, content_type="application/json", **headers)

    for name, (method, path, body, _with_key) in rows.items():
        refused = {
            "no key": call(method, path, body),
            "wrong key": call(method, path, body, HTTP_AUTHORIZATION="Bearer tack_not-a-key"),
            "wrong scheme": call(method, path, body, HTTP_AUTHORIZATION=f"Basic {api_key}"),
        }
        client.force_login(world.manager)  # a staff session is not an API credential
        refused["staff session"] = call(method, path, body)
        client.logout()
        for persona, response in refused.items():
            if response.status_code != 401 or not response.json().get("detail"):
                wrong.append((name, persona, response.status_code))
    assert not wrong, wrong
    assert snapshot() == before, "a refused API call changed data"

    # A key holding every scope but the one an operation needs is refused with 403 naming
    # that scope, and changes nothing.
    for name, (method, path, body, _with_key) in rows.items():
        needed = required_scope(resolve(path.split("?")[0]).func.view_class, method)
        others = [scope for scope in ApiScope.values if scope != needed]
        _, other_key = api_key_create(name=f"without {needed}", scopes=others)
        response = call(method, path, body, HTTP_AUTHORIZATION=f"Bearer {other_key}")
        if response.status_code != 403 or needed not in response.json().get("detail", ""):
            wrong.append((name, f"without {needed}", response.status_code))
    assert not wrong, wrong
    assert {k: v for k, v in snapshot().items() if k != "keys"} == {
        k: v for k, v in before.items() if k != "keys"
    }, "a call without its scope changed data"

    for name, (method, path, body, with_key) in rows.items():
        response = call(method, path, body, HTTP_AUTHORIZATION=f"Bearer {api_key}")
        if response.status_code != with_key:
            wrong.append((name, "with the key", response.status_code, with_key))
    assert not wrong, wrong


def snapshot() -> dict:
    return {
        "cases": list(CancellationCase.objects.values_list("pk", "outcome")),
        "subscriptions": list(
            SubscriptionEvent.objects.values_list("pk", flat=True).order_by("pk")
        ),
        "keys": ApiKey.objects.count(),
        "emails": OutboundEmail.objects.count(),
        "suppressions": Suppression.objects.count(),
        "comebacks": Comeback.objects.count(),
    }


def resigned(token_a: str, token_b: str) -> str:
    """B's payload under A's timestamp and signature: what a customer who edits their link
    to point at someone else would send."""
    payload_b = token_b.rsplit(":", 2)[0]
    return ":".join([payload_b, *token_a.rsplit(":", 2)[1:]])


def test_customer_pages_refuse_other_customers_and_foreign_tokens(client, world):
    a, b = world.a, world.b
    wrong = []
    before = snapshot()
    for name, (field, method, _) in CUSTOMER_PAGES.items():
        mine = getattr(a, field)
        foreign_purpose = a.unsubscribe_token if field != "unsubscribe_token" else a.cancel_token
        forged = {
            "B's ids under A's signature": resigned(mine, getattr(b, field)),
            "a token for another page": foreign_purpose,
            "truncated": mine[: len(mine) // 2],
            "no payload": ":" + mine.split(":", 1)[1],
        }
        for label, token in forged.items():
            path = reverse(name, args=[token]) + "?lang=en"
            verbs = (
                {method}
                if name in ("cancellations:reason", "cancellations:decide")
                else {
                    "get",
                    method,
                }
            )
            for verb in verbs:
                if verb == "post":
                    response = client.post(path, {"case": b.case.pk, "choice": "decline"})
                else:
                    response = client.get(path)
                if response.status_code != 400 or "This link does not work" not in (
                    response.content.decode()
                ):
                    wrong.append((name, label, verb, response.status_code))
    assert not wrong, wrong
    assert snapshot() == before
    b.subscription.refresh_from_db()
    assert b.subscription.status == SubscriptionStatus.CANCEL_PENDING


def test_a_customer_cannot_post_another_customers_case_through_their_own_link(client, world):
    a, b = world.a, world.b
    before = snapshot()
    # The reason and "just cancel" posts name no case: they act on the link's own
    # subscription only (A's is already set to end, so they lead to A's done page).
    for page, landing in (("reason", "done"), ("leave", "done"), ("decide", "entry")):
        response = client.post(
            reverse(f"cancellations:{page}", args=[a.cancel_token]),
            {"case": b.case.pk, "choice": "decline", "reason": str(b.case.reason_id)},
        )
        assert response.status_code == 303
        assert response["Location"] == reverse(f"cancellations:{landing}", args=[a.cancel_token])
    assert snapshot() == before
    b.case.refresh_from_db()
    assert b.case.outcome == CaseOutcome.CANCELLED and b.case.withdrawn_at is None
