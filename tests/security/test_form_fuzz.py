"""Hypothesis against the public pages: tampered, truncated, oversized and foreign tokens
(another page's token, a token signed with another key), junk and oversized form fields,
invalid choices, another customer's offers, and posts without the CSRF token. Each gets a
clear 4xx page — never a 500 — and changes nothing."""

import os
import string
from urllib.parse import quote

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cancellations import services as cancellation_services
from cancellations.models import CancellationCase, CaseStep, ExitReason, Offer
from cancellations.services import MAX_TEXT
from core.models import OutboundEmail
from desk.models import CallbackRequest
from subscriptions.actors import Actor
from subscriptions.models import Subscription, SubscriptionEvent
from tests.factories import make_plan, make_subscription
from winback.models import Comeback, Suppression

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("quiet_request_log")]

EXAMPLES = int(os.environ.get("TACK_FORM_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
PAGES = {  # name: (token field, methods the page answers)
    "cancellations:entry": ("cancel_token", ["get"]),
    "cancellations:reason": ("cancel_token", ["post"]),
    "cancellations:leave": ("cancel_token", ["get", "post"]),
    "cancellations:offers": ("cancel_token", ["get"]),
    "cancellations:decide": ("cancel_token", ["post"]),
    "cancellations:done": ("cancel_token", ["get"]),
    "cancellations:undo": ("undo_token", ["get", "post"]),
    "winback:comeback": ("comeback_token", ["get", "post"]),
    "winback:unsubscribe": ("unsubscribe_token", ["get", "post"]),
}
PURPOSES = {
    "cancel_token": "cancel",
    "undo_token": "undo",
    "comeback_token": "comeback",
    "unsubscribe_token": "unsubscribe",
}


def snapshot() -> dict:
    return {
        "cases": sorted(
            CancellationCase.objects.values_list("pk", "outcome", "reason_id", "reason_text")
        ),
        "steps": CaseStep.objects.count(),
        "offers": sorted(Offer.objects.values_list("pk", "accepted_at")),
        "subscriptions": sorted(Subscription.objects.values_list("pk", "status", "plan_id")),
        "ledger": SubscriptionEvent.objects.count(),
        "callbacks": CallbackRequest.objects.count(),
        "suppressions": Suppression.objects.count(),
        "comebacks": Comeback.objects.count(),
        "emails": OutboundEmail.objects.count(),
    }


def tampered(token: str, data) -> str:
    index = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_:"))
    if other == token[index]:
        other = "Z" if token[index] != "Z" else "Y"
    return token[:index] + other + token[index + 1 :]


def forged_token(person, field: str, data) -> tuple[str, str]:
    """A token for ``field``'s page that must not work, and what kind it is."""
    mine = getattr(person, field)
    kind = data.draw(
        st.sampled_from(
            ["tampered", "truncated", "oversized", "foreign", "other key", "random", "payload"]
        )
    )
    if kind == "tampered":
        return tampered(mine, data), kind
    if kind == "truncated":
        return mine[: data.draw(st.integers(1, len(mine) - 1))], kind
    if kind == "oversized":
        return mine + "A" * data.draw(st.integers(1, 20_000)), kind
    if kind == "foreign":
        others = [getattr(person, f) for f in PURPOSES if f != field]
        return data.draw(st.sampled_from(others)), kind
    if kind == "other key":
        payload = signing.loads(mine, salt=f"tack.{PURPOSES[field]}")
        return signing.dumps(payload, key="another-key", salt=f"tack.{PURPOSES[field]}"), kind
    if kind == "payload":
        # A payload of our own choosing, validly signed for another purpose (a token made for
        # one page cannot name something on another).
        payload = data.draw(
            st.dictionaries(st.sampled_from(["id", "s", "c", "o"]), st.integers(-5, 10**12))
        )
        purpose = data.draw(st.sampled_from([p for f, p in PURPOSES.items() if f != field]))
        return signing.dumps(payload, salt=f"tack.{purpose}", compress=True), kind
    return data.draw(st.text(min_size=1, max_size=300)), kind


def test_forged_tokens_get_a_clear_4xx_and_change_nothing(client, customer_a, customer_b):
    before = snapshot()
    seen = {}

    @FUZZ
    @given(data=st.data())
    def run(data):
        name = data.draw(st.sampled_from(sorted(PAGES)))
        field, methods = PAGES[name]
        person = data.draw(st.sampled_from([customer_a, customer_b]))
        token, kind = forged_token(person, field, data)
        method = data.draw(st.sampled_from(methods))
        path = reverse(name, args=["TOKEN"]).replace("TOKEN", quote(token, safe=""))
        response = getattr(client, method)(path, {"case": person.case.pk, "choice": "decline"})
        seen[kind] = seen.get(kind, 0) + 1
        # 400: the friendly "this link does not work" page; 404: the token has a character
        # no URL of ours can hold (a slash), so no page matched.
        assert response.status_code in (400, 404), (name, kind, token[:80], response.status_code)
        assert response["Content-Type"].startswith("text/html")
        assert b"<h1>" in response.content

    run()
    print(f"\nforged tokens tried: {sum(seen.values())} {seen}")
    assert snapshot() == before
    assert set(seen) == {
        "tampered",
        "truncated",
        "oversized",
        "foreign",
        "other key",
        "random",
        "payload",
    }


@pytest.fixture
def open_case(customer_b):
    """A customer on the offers page (an open case with a reason), and another customer's
    open case whose offers must be out of reach."""
    plan_low = make_plan(code="fuzz-basic", price="99.00", rank=1)
    plan = make_plan(code="fuzz-standard", price="199.00", rank=2)
    assert plan_low.rank < plan.rank
    mine, other = make_subscription(plan=plan), make_subscription(plan=plan)
    cases = []
    for subscription in (mine, other):
        case = cancellation_services.cancellation_start(
            subscription=subscription, actor=Actor.customer()
        )
        cancellation_services.cancellation_choose_reason(
            case=case, reason=ExitReason.objects.get(code="price"), actor=Actor.customer()
        )
        cases.append(case)
    from core.links import make_token

    token = make_token(purpose="cancel", payload={"s": mine.pk})
    assert Offer.objects.filter(case=cases[1]).exists()
    return token, cases[0], cases[1]


def parses_to(value: str, valid: set[int]) -> bool:
    try:
        return int(value) in valid
    except ValueError:
        return False


junk = st.one_of(
    st.text(max_size=50),
    st.integers(-(10**20), 10**20).map(str),
    st.text(min_size=MAX_TEXT + 1, max_size=MAX_TEXT + 5000),
    st.sampled_from(["", " ", "0", "-1", "1e9", "null", "decline ", "offer-", "offer-x", "\x00"]),
)


def test_junk_forms_get_a_clear_4xx_and_change_nothing(client, open_case):
    token, case, other_case = open_case
    reason_ids = set(ExitReason.objects.filter(active=True).values_list("pk", flat=True))
    my_offers = set(Offer.objects.filter(case=case).values_list("pk", flat=True))
    other_offers = sorted(Offer.objects.filter(case=other_case).values_list("pk", flat=True))
    before = snapshot()
    tried = {"reason": 0, "decide": 0}

    @FUZZ
    @given(
        page=st.sampled_from(["reason", "decide"]),
        case_field=st.one_of(st.just(str(case.pk)), st.just(str(other_case.pk)), junk),
        reason=junk.filter(lambda v: not parses_to(v, reason_ids)),
        choice=st.one_of(
            junk.filter(
                lambda v: (
                    v != "decline" and not (v.startswith("offer-") and parses_to(v[6:], my_offers))
                )
            ),
            st.sampled_from(other_offers).map(lambda pk: f"offer-{pk}"),
            st.just("decline"),
        ),
        text=junk,
        extra=st.dictionaries(
            st.sampled_from(["competitor", "callback_day", "callback_window", "months-1"]), junk
        ),
    )
    def run(page, case_field, reason, choice, text, extra):
        if choice == "decline" and len(text.strip()) <= MAX_TEXT:
            text = "x" * (MAX_TEXT + 1)  # a valid decline would (rightly) change things
        data = {"case": case_field, "reason": reason, "choice": choice, "text": text, **extra}
        response = client.post(reverse(f"cancellations:{page}", args=[token]) + "?lang=en", data)
        tried[page] += 1
        if response.status_code == 303:  # not this customer's case: back to the start
            assert response["Location"] == reverse("cancellations:entry", args=[token])
            assert case_field.strip() != str(case.pk), data
        else:
            assert response.status_code == 400, (page, response.status_code, str(data)[:300])
            assert b"<h1>" in response.content or b"errorlist" in response.content
        assert snapshot() == before, (page, str(data)[:300])

    run()
    print(f"\nform posts tried: {tried}")
    assert tried["reason"] and tried["decide"]


def test_posts_without_the_csrf_token_are_refused_in_the_customers_language(customer_a, open_case):
    token, case, _ = open_case
    client = Client(enforce_csrf_checks=True)
    before = snapshot()
    posts = [
        (reverse("cancellations:reason", args=[token]), {"case": case.pk, "reason": 1}),
        (reverse("cancellations:leave", args=[token]), {}),
        (reverse("cancellations:decide", args=[token]), {"case": case.pk, "choice": "decline"}),
        (reverse("cancellations:undo", args=[customer_a.undo_token]), {}),
        (reverse("winback:comeback", args=[customer_a.comeback_token]), {}),
    ]
    for path, data in posts:
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert "Din session har gått ut" in response.content.decode(), path  # customer A: sv
    english = client.post(posts[-1][0] + "?lang=en", {})
    assert "Your session expired" in english.content.decode()
    assert snapshot() == before
