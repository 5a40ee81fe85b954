"""Schemathesis over our own OpenAPI schema: generated valid and invalid requests to every
operation, with the API key and without. Whatever arrives, the API answers without a 5xx,
every error is JSON with a clear message, a refused request writes nothing, and the data
still holds together afterwards.

Runs in-process against the WSGI application inside the test's transaction. The number of
examples per operation and generation mode with the key is ``TACK_FUZZ_EXAMPLES`` (default
40: ~1,300 requests in about a minute on a quiet machine); raise it for a longer hunt.
"""

import os
import re
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from cancellations.models import CancellationCase
from subscriptions.models import Subscription
from tests.factories import make_plan, make_subscription

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("quiet_request_log")]

EXAMPLES = int(os.environ.get("TACK_FUZZ_EXAMPLES", "40"))
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# Bookkeeping that may happen on any authenticated call, refused or not: the key's last use,
# and the stored answer to an Idempotency-Key (4xx answers are replayed like successes).
BOOKKEEPING = ('"core_apikey"', '"core_idempotencyrecord"')


@pytest.fixture
def wsgi_in_transaction():
    """The WSGI app must not close the test's connection at the end of each request (the
    Django test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def book(api_key):
    """A few customers with subscriptions and cases for generated ids to hit."""
    from django.apps import apps

    from cancellations import services
    from cancellations.defaults import ensure_defaults
    from subscriptions.actors import Actor

    ensure_defaults(apps)
    plan = make_plan(code="standard")
    subscription = case = None
    for n in range(3):
        subscription = make_subscription(plan=plan, name=f"Fuzz {n}")
        case = services.cancellation_start(subscription=subscription, actor=Actor.customer())
    return {
        "/api/v1/customers/": {"external_id": subscription.customer.external_id},
        "/api/v1/subscriptions/": {"external_id": subscription.external_id},
        "/api/v1/cancellations/": {"id": case.pk},
    }


def schema_for(app):
    return schemathesis.openapi.from_wsgi("/api/schema/", app)


def assert_invariants():
    """Nothing half-written: every case has its steps and belongs to its subscription's
    customer, every subscription has its ledger. (Foreign keys rule out orphans already.)"""
    assert not CancellationCase.objects.filter(steps__isnull=True).exists()
    assert not CancellationCase.objects.exclude(customer=F("subscription__customer")).exists()
    assert not Subscription.objects.filter(events__isnull=True).exists()


class Tally:
    def __init__(self):
        self.statuses: Counter = Counter()
        self.failures: list = []
        self.refused_writes: list = []

    def record(self, case, headers):
        with CaptureQueriesContext(connection) as queries:
            response = case.call(headers=headers)
        status = response.status_code
        self.statuses[status // 100 * 100] += 1
        label = f"{case.method} {case.formatted_path} {case.query or ''} -> {status}"
        if status >= 500:
            self.failures.append((label, response.text[:300]))
            return
        if status < 400:
            return
        try:
            body = response.json()
        except ValueError:
            self.failures.append((label, "not JSON: " + response.text[:200]))
            return
        if not isinstance(body, dict) or not str(body.get("detail", "")).strip():
            self.failures.append((label, f"no message: {body}"))
        sql = [q["sql"] or "" for q in queries.captured_queries]
        writes = [
            query[:120]
            for query in sql
            if WRITE.match(query) and not any(table in query for table in BOOKKEEPING)
        ]
        if writes:
            self.refused_writes.append((label, writes))


def fuzz(tally, operation, mode, headers, examples, path_parameters=None):
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        tally.record(case, headers)

    run()


HALVES = 2


# One test per generation mode and half of the operations, so that parallel workers share
# the run; together they send every operation what one test used to.
@pytest.mark.parametrize("half", range(HALVES), ids=lambda half: f"operations {half + 1}/{HALVES}")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_the_api_survives_generated_requests(wsgi_in_transaction, book, api_key, mode, half):
    schema = schema_for(wsgi_in_transaction)
    every_operation = [result.ok() for result in schema.get_all_operations()]
    assert len(every_operation) >= 13
    operations = every_operation[half::HALVES]
    tally = Tally()
    auth = {"Authorization": f"Bearer {api_key}"}
    for operation in operations:
        # Generated ids mostly miss; a second pass aims the generated bodies at real objects.
        real_ids = next(
            (ids for prefix, ids in book.items() if operation.path.startswith(prefix)), None
        )
        fuzz(tally, operation, mode, auth, EXAMPLES)
        fuzz(tally, operation, mode, {}, max(EXAMPLES // 10, 3))
        if real_ids and "{" in operation.path:
            fuzz(tally, operation, mode, auth, EXAMPLES // 2, path_parameters=real_ids)

    total = sum(tally.statuses.values())
    print(
        f"\nschemathesis ({mode}): {total} requests, {len(operations)} operations: "
        f"{dict(tally.statuses)}"
    )
    assert not tally.failures, tally.failures[:20]
    assert not tally.refused_writes, tally.refused_writes[:20]
    assert tally.statuses[200] > 0 and tally.statuses[400] > 0
    assert_invariants()


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/no-such-thing/", 404), ("/api/v1/customers/a/b/c/", 404)],
)
def test_unrouted_api_paths_answer_json_like_every_api_error(client, path, status):
    """Found by the fuzzing: a path no API route matches was answered with the HTML page."""
    response = client.get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
