"""Fault injection: private Redis, PostgreSQL, web server and Celery workers, started and
stopped by the fixtures themselves (never the shared services on 5432/6379), so a fault can
be injected into them without touching anything else on the machine."""

import contextlib
import functools
import glob
import http.client
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from config.celery import app
from tests.conftest import CapturingSMTPHandler, free_port
from tests.databases import database_url, template_dump
from tests.faults.worker_parent import ForkedWorker, WorkerParent
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


_running: list[pytest.Item] = []


@pytest.fixture(autouse=True)
def _figures_item(request):
    _running.append(request.node)
    yield
    _running.remove(request.node)


def report(line: str) -> None:
    """A figure shown in the summary at the end of the run (faults injected, counts). It
    travels with the test's report, so pytest-xdist brings it from the worker that ran it."""
    _running[-1].user_properties.append(("fault injection", line))


# --- Processes --------------------------------------------------------------------------


def stop_process(process: subprocess.Popen | ForkedWorker | None, *, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def kill_process(process: subprocess.Popen | ForkedWorker) -> None:
    """SIGKILL: no clean-up, no acknowledgement, no goodbye to the broker."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def tack_env(*, database_url: str, redis_url: str, smtp_port: int = 25, **extra: str) -> dict:
    """The environment of a production-like Tack process (config.settings, DEBUG off)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": django_settings.SECRET_KEY,  # so the test can sign the customers' links
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "TACK_PUBLIC_BASE_URL": "http://testserver",
        "LOG_LEVEL": "WARNING",
        # The webhook receivers of these tests listen on 127.0.0.1 over plain http.
        "TACK_OUTBOUND_ALLOW_HTTP": "1",
        "TACK_OUTBOUND_ALLOWED_ADDRESSES": "127.0.0.1",
        # A worker runs Django's system checks as it starts (a third of its start-up); the
        # suite runs them once (tests/test_project.py), not again for each of its workers.
        "CELERY_SKIP_CHECKS": "1",
        **extra,
    }


def run_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test database)."""
    return database_url()


_parents: dict[tuple, WorkerParent] = {}


@pytest.fixture(autouse=True)
def _worker_parents():
    """The warm worker parents a test started (``start_worker``) end with it."""
    yield
    while _parents:
        _parents.popitem()[1].stop()


def start_worker(env: dict, log: Path) -> ForkedWorker:
    """A Celery worker process with one execution slot, so that every message it reserves
    is one it is running (as with production's prefork children); a solo pool would
    otherwise reserve one per CPU and strand the spare ones until the sweep's requeue.
    Forked from a warm parent for this test and environment (tests/faults/worker_parent.py)."""
    key = tuple(sorted((k, v) for k, v in env.items() if k != "PYTEST_CURRENT_TEST"))
    if key not in _parents:
        _parents[key] = WorkerParent(env, ROOT, Path(tempfile.mkdtemp(prefix="tack-workers-")))
    argv = ["worker", "--pool=solo", "--concurrency=1"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    return _parents[key].fork(log, argv)


@dataclass
class WebServer:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_web(env: dict, log: Path, *, workers: int = 1, threads: int = 4) -> WebServer:
    """gunicorn serving config.wsgi, as in production; returns once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    command += ["--worker-class", "gthread", "--timeout", "30", "--graceful-timeout", "5"]
    command += ["--error-logfile", "-"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    server = WebServer(process, port, log)

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        return Browser().get(f"{server.url}/healthz").status is not None

    wait_until(answers, timeout=60, interval=0.2)
    return server


# --- Redis --------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence: stopping it is an
    outage, and it comes back empty (every queued message is gone)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.stops = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"]
        command += ["--dir", str(self.workdir)]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.answers, timeout=15)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.stops += 1


@pytest.fixture
def private_redis(tmp_path_factory) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@contextmanager
def publishing_to(broker_url: str):
    """Tasks published by this process go to ``broker_url`` (not run eagerly), for the
    worker processes to take."""
    previous = app.conf.broker_url

    def reset_pools():
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = previous
        app.conf.task_always_eager = True
        reset_pools()


@pytest.fixture
def broker(private_redis) -> Iterator[PrivateRedis]:
    """The private Redis as the broker of this process too."""
    with publishing_to(private_redis.url):
        yield private_redis


# --- PostgreSQL -------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    found = candidates[-1] if candidates else shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own: initdb into a temporary directory, trust auth, on a
    free port, its socket in that directory. Run as the ``postgres`` user when we are root
    (PostgreSQL refuses to run as root)."""

    def __init__(self, workdir: Path, bindir: Path):
        self.bindir = bindir
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.restarts = 0

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *command], timeout=timeout, capture_output=True, cwd="/", check=False
        )
        if done.returncode:
            raise subprocess.CalledProcessError(
                done.returncode, command, done.stdout, done.stderr.decode()[-2000:]
            )

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args, timeout=timeout)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres")
        self._run(
            str(self.bindir / "initdb"),
            *("-D", str(self.data), "-A", "trust", "-U", "postgres"),
            *("-E", "UTF8", "--locale", "C", "--no-sync"),
        )
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self.pg_ctl("-o", options, "-l", str(self.workdir / "postgres.log"), "-w", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is terminated, open transactions roll back."""
        self.pg_ctl("-m", "fast", "-l", str(self.workdir / "postgres.log"), "-w", "restart")
        self.restarts += 1

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def create_migrated(self, database: str) -> str:
        """A database on this cluster with Tack's migrated schema and its data (roles,
        defaults), restored from a dump of the suite's migrated template: what
        ``manage.py migrate`` would make, for a fraction of its CPU. Returns its URL."""
        dump = template_dump(str(self.bindir / "pg_dump"))
        psql = [str(self.bindir / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1"]
        run = {"capture_output": True, "check": True, "timeout": 120}
        subprocess.run([*psql, self.url(), "-c", f"CREATE DATABASE {database}"], **run)
        subprocess.run([*psql, self.url(database)], input=dump, **run)
        return self.url(database)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_bin()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's base directory: that is private to us, and the server runs as
    # the postgres user when we are root.
    workdir = Path(tempfile.mkdtemp(prefix="tack-faults-pg-"))
    postgres = PrivatePostgres(workdir, bindir)
    try:
        postgres.init()
        yield postgres
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class TcpGate:
    """A TCP proxy to ``upstream`` (host, port) on a free local port that can be shut: then
    every connection through it is cut and new ones are refused, as when a database host
    goes away, without touching the server itself (others use it too)."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def shut(self) -> None:
        """Refuse new connections and cut the open ones."""
        with self.lock:
            listener, self.listener = self.listener, None
            open_sockets, self.sockets = self.sockets, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # shut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    server.close()
                    return
                self.sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def database_url(self) -> str:
        """``run_database_url()`` through this gate."""
        database = connection.settings_dict
        return f"postgres://{database['USER']}@127.0.0.1:{self.port}/{database['NAME']}"


@pytest.fixture
def database_gate() -> Iterator[TcpGate]:
    database = connection.settings_dict
    gate = TcpGate((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    gate.open()
    yield gate
    gate.shut()


# --- SMTP ------------------------------------------------------------------------------


class SMTPServer:
    """An aiosmtpd server that can go down and come back on the same port."""

    def __init__(self, handler: CapturingSMTPHandler):
        self.handler = handler
        self.port = free_port()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.handler.messages


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(CapturingSMTPHandler())
    server.start()
    yield server
    server.stop()


# --- HTTP: a customer's browser, a webhook receiver ---------------------------------------


@dataclass
class Response:
    status: int | None  # None: no answer (connection refused, reset or timed out)
    url: str
    text: str
    error: str = ""
    started: float = 0.0
    seconds: float = 0.0


class _FromAddress(urllib.request.HTTPHandler):
    """Connect from this loopback address (any of 127.0.0.0/8 works on Linux), so that each
    customer has an address of their own, as behind a real proxy, for the rate limits."""

    def __init__(self, source_ip: str):
        super().__init__()
        self.source_ip = source_ip

    def http_open(self, req):
        connect = functools.partial(http.client.HTTPConnection, source_address=(self.source_ip, 0))
        return self.do_open(connect, req)


def customer_ip(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


class Browser:
    """A customer's browser: cookies, CSRF tokens, redirects followed; never raises."""

    CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

    def __init__(self, timeout: float = 15, source_ip: str = "127.0.0.1"):
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            _FromAddress(source_ip),
        )

    def _open(self, request: urllib.request.Request) -> Response:
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                response = Response(answer.status, answer.url, answer.read().decode())
        except urllib.error.HTTPError as error:
            response = Response(error.code, error.url, error.read().decode("utf-8", "replace"))
        except (OSError, urllib.error.URLError) as error:
            response = Response(None, request.full_url, "", error=f"{type(error).__name__}")
        response.started, response.seconds = started, time.monotonic() - started
        return response

    def get(self, url: str) -> Response:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict, page: Response) -> Response:
        match = self.CSRF.search(page.text)
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": match and match[1]})
        return self._open(urllib.request.Request(url, data=body.encode(), method="POST"))

    def api(self, url: str, key: str, data: dict) -> Response:
        request = urllib.request.Request(
            url,
            data=json.dumps(data).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        return self._open(request)


@dataclass
class Post:
    event_id: str
    event_type: str
    body: bytes
    accepted: bool


@dataclass
class Receiver:
    """The company's webhook receiver: keeps every POST; ``on_post(n)`` runs before the
    n-th (from 1) is answered and returns False to leave it unanswered (the sender died)."""

    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_post: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/tack"

    def accepted(self) -> list[Post]:
        with self.lock:
            return [post for post in self.posts if post.accepted]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver: Receiver = self.server.receiver
        with receiver.lock:
            number = len(receiver.posts) + 1
            accept = receiver.on_post(number) if receiver.on_post else True
            receiver.posts.append(
                Post(self.headers["Tack-Event-Id"], self.headers["Tack-Event-Type"], body, accept)
            )
        try:
            self.send_response(200 if accept else 500)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the sender is gone

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    server.daemon_threads = True
    server.block_on_close = False
    server.receiver = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.receiver
    server.shutdown()
    server.server_close()


# --- The customers' cancellation flow over HTTP -----------------------------------------

CHOICE = re.compile(r'name="choice" value="(offer-\d+)"')
REASON_BUTTON = re.compile(r'name="reason" value="(\d+)"')
CASE_FIELD = re.compile(r'name="case" value="(\d+)"')


@dataclass
class Walk:
    """One customer through the flow: the answers they got and where they ended."""

    responses: list[Response] = field(default_factory=list)
    outcome: str = ""

    def failed(self) -> list[Response]:
        return [r for r in self.responses if r.status is None or r.status >= 400]


def walk_cancel_flow(
    base: str,
    token: str,
    *,
    reason_id: int,
    accept: bool,
    deadline: float,
    source_ip: str = "127.0.0.1",
    retry: float = 0.2,
) -> Walk:
    """Open the link, pick the reason, then accept the first offer or cancel. A request that
    fails is tried again from the done page, which leads back to the right step; ends when
    the done page says saved or cancelled, or at ``deadline`` (time.monotonic)."""
    browser, walk = Browser(source_ip=source_ip), Walk()
    flow = f"{base}/cancel/{token}"

    def step(response: Response) -> Response:
        walk.responses.append(response)
        return response

    page = step(browser.get(f"{flow}/"))
    while time.monotonic() < deadline:
        if page.status != 200:
            time.sleep(retry)
            page = step(browser.get(f"{flow}/done/"))
            continue
        path = urllib.parse.urlparse(page.url).path
        case = CASE_FIELD.search(page.text)
        if path.endswith("/done/"):
            walk.outcome = "done"
            return walk
        if path.endswith("/offers/") and case:
            offers = CHOICE.findall(page.text)
            choice = offers[0] if accept and offers else "decline"
            data = {"case": case[1], "choice": choice}
            if choice != "decline":
                data[f"months-{choice.removeprefix('offer-')}"] = "1"
            page = step(browser.post(f"{flow}/decide/", data, page))
        elif REASON_BUTTON.search(page.text):  # the first click opens the case
            page = step(browser.post(f"{flow}/reason/", {"reason": str(reason_id)}, page))
        else:
            raise AssertionError(f"unexpected page {page.url}: {page.text[:500]}")
    return walk
