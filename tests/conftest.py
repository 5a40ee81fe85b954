import email
import email.policy
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_migrate
from django.utils import translation
from pytest_django.plugin import blocking_manager_key
from rest_framework.test import APIClient

from cancellations.defaults import ensure_defaults
from cancellations.selectors import REASONS_KEY
from core.enums import ApiScope
from core.services import api_key_create
from core.webhooks import SUBSCRIBERS_KEY
from tests.databases import clone_database, drop_database
from tests.factories import make_agent, make_manager, make_user
from tests.scheduling import balanced_order, load_durations
from winback.defaults import ensure_default_campaigns

# --- The run as a whole --------------------------------------------------------------------

_figures: dict[str, list[str]] = {}


def pytest_collection_modifyitems(config, items):
    """Long tests first, spread over the pytest-xdist workers (tests/scheduling.py), so that
    they start at once and the short ones fill the gaps, instead of one long test at the end."""
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    if workers > 1:
        items[:] = balanced_order(items, workers, load_durations())
    else:
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_runtest_logreport(report):
    """Figures a test leaves in ``user_properties`` (fault injection counts, screenshots):
    the report carries them from whichever pytest-xdist worker ran the test."""
    if report.when == "call":
        for name, value in report.user_properties:
            _figures.setdefault(name, []).append(value)


def pytest_terminal_summary(terminalreporter):
    if "fault injection" in _figures:
        terminalreporter.section("fault injection")
        for line in _figures["fault injection"]:
            terminalreporter.write_line(line)
    if "screenshots" in _figures:
        folder = os.path.commonpath(_figures["screenshots"])
        terminalreporter.write_line(
            f"Browser journeys: {len(_figures['screenshots'])} screenshots saved under {folder}"
        )


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """This process's own database, cloned from a migrated template (tests/databases.py)
    instead of migrated again by every pytest-xdist worker."""
    with django_db_blocker.unblock():
        names = clone_database()
    yield
    with django_db_blocker.unblock():
        drop_database(*names)


_flushed: list[str] = []


def _note_a_flush(sender, **kwargs) -> None:
    _flushed.append(sender.label)


# A transactional test ends with Django's flush, which empties every table (the rows our data
# migrations wrote among them) and then sends post_migrate.
post_migrate.connect(_note_a_flush, dispatch_uid="tests.conftest.note_a_flush")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a flush, put back what the migrations had written (the shipped exit reasons,
    offer rules and campaigns; post_migrate itself brings back the roles), committed, as the
    template has them. Otherwise every later test in this process builds them again inside
    its own transaction, only for its rollback to drop them. (The template's counted empty
    rollups are not put back: a later test's first refresh rebuilds them, as before.)"""
    yield
    # After the process's last test the session's fixtures are gone too (its database).
    if _flushed and nextitem is not None:
        _flushed.clear()
        with item.config.stash[blocking_manager_key].unblock(), transaction.atomic():
            ensure_defaults(apps)
            ensure_default_campaigns(apps)


@pytest.fixture(autouse=True)
def _rollups_refreshed_when_asked(request, monkeypatch):
    """A committed change asks for a rollup refresh a few seconds later, one for all the
    changes in between (core/changes.py). Tests run tasks at once (eager), so each commit
    would recount the rollups there and then: a test of the figures refreshes them itself
    (``rollups_refresh``), and a test marked ``rollups_follow_changes`` keeps the request."""
    if request.node.get_closest_marker("rollups_follow_changes") is None:
        monkeypatch.setattr("core.changes.request_rollup_refresh", lambda: None)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a page rendered in Swedish by the test
    before (the locale middleware activates the customer's language for the thread) must
    not turn the next test's figures and sentences Swedish."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def forget_cached_rows() -> None:
    """Drop the rows a test before cached (the webhook subscribers, the exit reasons): its
    rollback removed them without the signals that drop the cache."""
    cache.delete_many([SUBSCRIBERS_KEY, REASONS_KEY])


@pytest.fixture(autouse=True)
def _no_cached_rows():
    """Each test starts without rows cached by a test before (see ``forget_cached_rows``;
    a module's shared set-up, built before this runs, calls it itself)."""
    forget_cached_rows()
    yield


@pytest.fixture
def agent(db):
    return make_agent()


@pytest.fixture
def manager(db):
    return make_manager()


@pytest.fixture
def outsider(db):
    """Logged in, but not staff."""
    return make_user("outsider", staff=False)


@pytest.fixture
def api_key(db):
    _, raw_key = api_key_create(name="billing sync", scopes=ApiScope.values)
    return raw_key


@pytest.fixture
def api(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def anonymous_api():
    return APIClient()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CapturingSMTPHandler:
    """A real SMTP server's handler that keeps every message it accepts."""

    def __init__(self):
        self.messages = []
        self.peers = []  # the client's address of each accepted message: one per connection
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 Try again later"
        self.peers.append(session.peer)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """An aiosmtpd server on localhost; Django sends real SMTP to it."""
    from aiosmtpd.controller import Controller

    handler = CapturingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    yield handler
    controller.stop()


@pytest.fixture
def celery_worker():
    """A real Celery worker (solo pool, in a thread) consuming from the test Redis."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True


@dataclass
class ReceivedRequest:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    """A real HTTP server on localhost that keeps every POST and answers as it is told:
    ``answer((500, 0), (200, 1.5))`` makes the next two answers a 500 and a 200 after 1.5 s;
    after that it answers 200 at once."""

    def __init__(self, server: ThreadingHTTPServer):
        self.server = server
        self.requests: list[ReceivedRequest] = []
        self.plan: list[tuple[int, float]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/tack"

    def answer(self, *plan: tuple[int, float]) -> None:
        with self.lock:
            self.plan.extend(plan)

    def events(self) -> list[dict]:
        with self.lock:
            return [request.json for request in self.requests]


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver: WebhookReceiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(ReceivedRequest(dict(self.headers.items()), body))
            status, delay = receiver.plan.pop(0) if receiver.plan else (200, 0)
        time.sleep(delay)
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting

    def log_message(self, format, *args):
        pass


@pytest.fixture
def webhook_receiver():
    """A threaded HTTP server on 127.0.0.1 standing in for the company's billing or CRM."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _ReceiverHandler)
    server.daemon_threads = True
    server.block_on_close = False
    receiver = WebhookReceiver(server)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
