"""Schemathesis against the live schema of a live server, every check it has: generated
valid and invalid requests to every operation, with the API key and without. 0 failed checks:
no 5xx, every status code, content type, header and body as the schema documents, valid
data accepted and invalid data refused, auth never ignored, a deleted resource gone — and
the data still holds together afterwards; without a key, nothing is written at all.

The run is schemathesis's own engine (what ``schemathesis run --checks all`` does), used as
a library, against a live server (one per test process, shared by its tests). It is split
in three parts that parallel workers share. ``TACK_FUZZ_EXAMPLES`` (default 10) is the
fuzzing phase's examples per operation; raise it for a longer hunt.
"""

import os
import re
import socket

import pytest
import schemathesis
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db.backends.signals import connection_created
from django.db.models import F
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from cancellations.models import CancellationCase
from subscriptions.models import Subscription
from tests.factories import make_plan, make_subscription

fuzz = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("TACK_FUZZ_EXAMPLES", "10"))
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)

# Rules between fields that an OpenAPI 3.0 schema cannot state, each answered 400 naming
# them: a period's `to` on or after its `from` and at most three years on; a subscription's
# status `paused` with `paused_until`, `cancel_pending` with `cancel_at`, and `cancelled_by`
# only with an ending status. Everything else a schema-valid request can be refused for is
# a 404 (an id or code that names nothing) or a 409 (a state).
CROSS_FIELD_RULES = [
    {
        "include-path": path,
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
            }
        },
    }
    for path in ["/api/v1/metrics/summary", "/api/v1/subscriptions/{external_id}/"]
]


@pytest.fixture
def book(api_key):
    """A few customers with subscriptions and cases for generated requests to meet."""
    from django.apps import apps

    from cancellations import services
    from cancellations.defaults import ensure_defaults
    from subscriptions.actors import Actor

    ensure_defaults(apps)
    plan = make_plan(code="standard")
    for n in range(3):
        subscription = make_subscription(plan=plan, name=f"Fuzz {n}")
        services.cancellation_start(subscription=subscription, actor=Actor.customer())


class _NoDelayWSGIServer(ThreadedWSGIServer):
    """Django's test server answers in two small writes (headers, body); with Nagle's
    algorithm and delayed ACKs each answer then waits ~40 ms on loopback. Off, the same
    run takes a fraction of the time."""

    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _ApiServerThread(LiveServerThread):
    server_class = _NoDelayWSGIServer


@pytest.fixture(scope="module")
def api_server():
    """A live server for this module's tests (database access comes with each test)."""
    thread = _ApiServerThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def server_writes():
    """Every INSERT, UPDATE or DELETE the live server's request threads run."""
    writes: list[str] = []

    def record(execute, sql, params, many, context):
        if WRITE.match(sql or ""):
            writes.append(sql[:120])
        return execute(sql, params, many, context)

    def watch(sender, connection, **kwargs):
        connection.execute_wrappers.append(record)

    connection_created.connect(watch)
    yield writes
    connection_created.disconnect(watch)


def run_schemathesis(url: str, *, headers: dict, phases: list[str]) -> dict:
    config = SchemathesisConfig.from_dict(
        {
            "base-url": url,
            "headers": headers,
            "checks": {"enabled": True},
            "generation": {"max-examples": EXAMPLES, "deterministic": True},
            "phases": {
                phase: {"enabled": phase in phases}
                for phase in ["examples", "coverage", "fuzzing", "stateful"]
            },
            "operations": CROSS_FIELD_RULES,
        }
    )
    schema = schemathesis.openapi.from_url(f"{url}/api/schema/", config=config)
    assert len(list(schema.get_all_operations())) >= 15
    tally = {"cases": 0, "checks": 0, "statuses": {}, "failures": [], "errors": []}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    status = interaction.response.status_code
                    tally["statuses"][status] = tally["statuses"].get(status, 0) + 1
            if os.environ.get("TACK_FUZZ_TIMES"):
                print(
                    f"{event.elapsed_time:6.1f}s {len(event.recorder.checks):4} {event.recorder.label}"
                )
            for case_id, checks in event.recorder.checks.items():
                tally["cases"] += 1
                for check in checks:
                    tally["checks"] += 1
                    if check.status == Status.FAILURE:
                        failure = check.failure_info.failure
                        interaction = event.recorder.interactions.get(case_id)
                        answer = interaction.response if interaction else None
                        answered = (
                            f"{answer.status_code} {(answer.content or b'')[:300]!r}"
                            if answer
                            else ""
                        )
                        tally["failures"].append(
                            f"{event.recorder.label}: {check.name}: {failure.title}\n"
                            f"{failure.message[:300]}\n{check.failure_info.code_sample[:500]}\n"
                            f"answered {answered}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            tally["errors"].append(str(getattr(event, "value", event))[:500])
    print(
        f"\nschemathesis {phases}: {tally['cases']} cases, {tally['checks']} checks, "
        f"{tally['statuses']}"
    )
    return tally


def assert_invariants():
    """Nothing half-written: every case has its steps and belongs to its subscription's
    customer, every subscription has its ledger. (Foreign keys rule out orphans already.)"""
    assert not CancellationCase.objects.filter(steps__isnull=True).exists()
    assert not CancellationCase.objects.exclude(customer=F("subscription__customer")).exists()
    assert not Subscription.objects.filter(events__isnull=True).exists()


# With the key: the examples and coverage phases (boundary and type-violating values for
# each parameter, the bulk of the requests); then fuzzing and the stateful phase.
PARTS = {
    "coverage": ["examples", "coverage"],
    "fuzzing and stateful": ["fuzzing", "stateful"],
}


@fuzz
@pytest.mark.slow
@pytest.mark.usefixtures("quiet_request_log")
@pytest.mark.parametrize("part", list(PARTS))
def test_the_api_keeps_its_contract_with_a_key(api_server, book, api_key, part):
    tally = run_schemathesis(
        api_server, headers={"Authorization": f"Bearer {api_key}"}, phases=PARTS[part]
    )
    assert not tally["errors"], tally["errors"][:5]
    assert not tally["failures"], "\n\n".join(tally["failures"][:10])
    assert tally["statuses"].get(200) and tally["statuses"].get(400), tally["statuses"]
    assert_invariants()


@fuzz
@pytest.mark.slow
@pytest.mark.usefixtures("quiet_request_log")
def test_the_api_keeps_its_contract_without_a_key(api_server, book, server_writes):
    tally = run_schemathesis(
        api_server, headers={}, phases=["examples", "coverage", "fuzzing", "stateful"]
    )
    assert not tally["errors"], tally["errors"][:5]
    assert not tally["failures"], "\n\n".join(tally["failures"][:10])
    assert tally["statuses"].get(401) and not tally["statuses"].get(200), tally["statuses"]
    assert server_writes == []


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/no-such-thing/", 404), ("/api/v1/customers/a/b/c/", 404)],
)
@pytest.mark.django_db
def test_unrouted_api_paths_answer_json_like_every_api_error(client, path, status):
    """Found by the fuzzing: a path no API route matches was answered with the HTML page."""
    response = client.get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    page = client.get("/no-such-page/")
    assert page.status_code == status and page["Content-Type"].startswith("text/html")
