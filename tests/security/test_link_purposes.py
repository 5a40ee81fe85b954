"""Each link does one thing (issue 22): every kind of signed link carries its purpose in its
signature. A genuine token of one kind, naming the id of an object another kind's page acts
on, is posted to that page: it gets a 4xx and changes nothing — and the right kind of token
for the same id then acts, so the refusal came from the purpose alone. All kinds name their
object as ``{"id": pk}``, so without the purpose in ``core/links.py``'s salt every pair here
would act."""

from dataclasses import dataclass
from itertools import permutations

import pytest
from django.urls import reverse

from cancellations import links as cancel_links
from cancellations.models import CancellationCase
from subscriptions.models import Customer, Subscription
from tests.factories import make_plan, make_subscription
from winback import links as winback_links
from winback.models import Comeback, Outreach, Suppression

pytestmark = pytest.mark.django_db


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


# How each kind makes its token for an id: the product's own link makers.
MAKE = {
    "cancel": lambda pk: _token(cancel_links.cancel_link(subscription=Subscription(pk=pk))[0]),
    "undo": lambda pk: _token(cancel_links.undo_path(case=CancellationCase(pk=pk))),
    "unsubscribe": lambda pk: _token(winback_links.unsubscribe_url(customer=Customer(pk=pk))),
    "comeback": lambda pk: _token(winback_links.comeback_url(outreach=Outreach(pk=pk))),
}


@dataclass
class Target:
    """An object a kind's page acts on, the page's POST, and what acting would change."""

    pk: int
    path: object  # token -> the path that acts
    state: object  # () -> what acting changes


def cancel_target(person) -> Target:
    subscription = make_subscription(plan=make_plan())
    return Target(
        subscription.pk,
        lambda token: reverse("cancellations:leave", args=[token]),
        lambda: (
            Subscription.objects.get(pk=subscription.pk).status,
            CancellationCase.objects.filter(subscription=subscription).count(),
        ),
    )


def undo_target(person) -> Target:
    case = person.case  # cancelled on the web: its subscription is set to end
    return Target(
        case.pk,
        lambda token: reverse("cancellations:undo", args=[token]),
        lambda: (
            CancellationCase.objects.get(pk=case.pk).withdrawn_at is None,
            Subscription.objects.get(pk=case.subscription_id).status,
        ),
    )


def unsubscribe_target(person) -> Target:
    customer = person.outreach.customer
    return Target(
        customer.pk,
        lambda token: reverse("winback:unsubscribe", args=[token]),
        lambda: Suppression.objects.filter(customer=customer).count(),
    )


def comeback_target(person) -> Target:
    outreach = person.outreach
    return Target(
        outreach.pk,
        lambda token: reverse("winback:comeback", args=[token]),
        lambda: Comeback.objects.filter(lost_customer=outreach.lost_customer_id).count(),
    )


TARGETS = {
    "cancel": cancel_target,
    "undo": undo_target,
    "unsubscribe": unsubscribe_target,
    "comeback": comeback_target,
}


@pytest.mark.parametrize(("kind", "page"), list(permutations(MAKE, 2)))
def test_a_token_of_one_kind_does_nothing_on_another_kinds_page(client, customer_a, kind, page):
    target = TARGETS[page](customer_a)
    before = target.state()

    # The client does not check CSRF tokens: the refusal must come from the link itself.
    response = client.post(target.path(MAKE[kind](target.pk)) + "?lang=en")

    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert target.state() == before
    # The page's own kind of token for the same id acts: the setup could have been changed.
    assert client.post(target.path(MAKE[page](target.pk))).status_code in (200, 303)
    assert target.state() != before
