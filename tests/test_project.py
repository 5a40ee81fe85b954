"""The project's set-up files agree with its settings."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def settings_env_names() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.local.yml"])
def test_compose_file_is_valid_against_the_compose_spec(name):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / name),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_services_and_variables_match_the_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert {"web", "worker", "beat", "db", "redis", "mail"} <= set(services)
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "noeviction" in services["redis"]["command"]
    known = settings_env_names()
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name} sets variables the settings never read: {unknown}"
        assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_HOST"} <= set(env)
        for target in services[name].get("depends_on", {}):
            assert target in services, f"{name} depends on unknown service {target}"
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in compose.get("volumes", {}), f"undeclared volume {source}"
    # The hostnames in the URLs are compose services.
    env = services["web"]["environment"]
    assert re.search(r"@db:5432/", env["DATABASE_URL"])
    assert "//redis:6379" in env["REDIS_URL"]
    assert env["EMAIL_HOST"] in services


LOOSENING = {
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
}


def test_compose_is_secure_by_default_and_loosened_only_by_the_local_override():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    local = yaml.safe_load((ROOT / "docker-compose.local.yml").read_text())
    known = settings_env_names()

    for name in ("web", "worker", "beat"):
        env = compose["services"][name]["environment"]
        # Unset, the settings' production defaults apply: redirects, Secure cookies, HSTS.
        assert not LOOSENING & set(env), name
        assert not env["TACK_PUBLIC_BASE_URL"].split(":-")[-1].startswith("http:"), name
        assert not env["CSRF_TRUSTED_ORIGINS"].split(":-")[-1].startswith("http:"), name
        loosened = local["services"][name]["environment"]
        assert set(loosened) <= known
        assert {loosened[key] for key in LOOSENING} == {"0"}
    assert set(local["services"]) == {"web", "worker", "beat"}


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY="k3%x!long-random-production-secret-value-for-the-check-9f8e7d6c5b4a",
        ALLOWED_HOSTS="tack.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/tack",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    env.update(extra)
    return env


def test_deploy_check_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_migrations_are_in_sync_with_models():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_offline_commands_run_without_secret_key():
    """A bare checkout can check its migrations with no secrets in the environment."""
    env = production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout


@pytest.mark.django_db
def test_postgresql_jit_is_off_for_our_connections():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pytest.mark.slow
def test_make_run_serves_demo_data_on_the_port_it_is_given(tmp_path):
    """`make run` on SQLite with eager tasks (no DATABASE_URL's server, no Redis), on PORT."""
    import shutil
    import signal
    import urllib.request

    from tests.conftest import free_port
    from tests.helpers import wait_until

    port = free_port()
    # No msgfmt on the PATH: the script then uses the committed translations instead of
    # compiling them in the checkout that other tests are reading.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECRET", "REDIS", "DATABASE", "TACK_"))
    }
    env.update(
        PATH=str(bin_dir),
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        DEMO_CUSTOMERS="40",
    )
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        wait_until(healthy, timeout=120, interval=0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as page:
            assert page.status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    output = log.read_text()
    assert f"serving on http://127.0.0.1:{port}" in output
    assert "no REDIS_URL set" in output and "GNU gettext not found" in output


def test_dependency_audit_skips_with_a_clear_line_where_the_database_is_unreachable():
    result = subprocess.run(
        [str(ROOT / "scripts" / "audit_dependencies.sh")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TACK_AUDIT_PROBE_URL": "http://127.0.0.1:9/nothing-here"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Dependency audit skipped: ")
    requirements = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^pip-audit==[\d.]+$", requirements, re.MULTILINE)
    assert "make audit" in (ROOT / ".ci" / "run").read_text()


SQLITE_DECISIONS = """
from cancellations import selectors, services
from cancellations.models import ExitReason
from core.models import OutboundEmail
from core.sql import update_from_values
from subscriptions.actors import Actor
from subscriptions.enums import Channel
from tests.factories import make_subscription

web = Actor.customer(Channel.WEB)
reason = ExitReason.objects.filter(active=True).first()
leaving = services.cancellation_open(subscription=make_subscription(), actor=web, reason=reason)
left = services.cancellation_decide(
    case=leaving.case, actor=web, decision=services.Decision.DECLINE
)
staying = services.cancellation_open(subscription=make_subscription(), actor=web, reason=reason)
offer = selectors.current_offers(case=staying.case).exclude(kind="callback").first()
kept = services.cancellation_decide(
    case=staying.case,
    actor=web,
    decision=services.Decision.ACCEPT,
    offer_id=offer.pk,
    options={"months": "1"},
)
emails = list(OutboundEmail.objects.order_by("pk"))
update_from_values(OutboundEmail, fields=["subject"], rows=[(emails[0].pk, "renamed")])
print(left.outcome, kept.outcome, [e.status for e in emails])
print(OutboundEmail.objects.order_by("pk").values_list("subject", flat=True)[0])
"""


@pytest.mark.slow
def test_decisions_and_their_emails_work_on_the_embedded_sqlite(tmp_path):
    """`make run`'s embedded SQLite: the statements written for PostgreSQL (prepared locks,
    change marks, the outbox claim and record, UPDATE … FROM VALUES) fall back or run there."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECRET", "REDIS", "DATABASE", "TACK_", "EMAIL"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'smoke.sqlite3'}",
        DJANGO_DEBUG="1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    run = {"cwd": ROOT, "env": env, "capture_output": True, "text": True, "timeout": 300}
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)
    assert migrated.returncode == 0, migrated.stderr
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", SQLITE_DECISIONS], **run
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["cancelled saved ['sent', 'sent']", "renamed"]
