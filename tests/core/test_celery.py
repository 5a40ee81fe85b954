import pytest
from django.db import transaction

from config.celery import app
from core.enums import EmailStatus
from core.models import OutboundEmail
from core.outbox import email as email_outbox
from tests.helpers import wait_until


def test_celery_configuration_is_safe_for_redis():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_time_limit < visibility
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_url.startswith("redis://")
    # Work due in the future is swept from the database, never parked in the broker.
    assert {entry["task"] for entry in conf.beat_schedule.values()} >= {
        "core.sweep_outbound_email",
        "subscriptions.apply_due_changes",
    }


def test_tasks_are_autodiscovered():
    # What a worker does when it starts (the apps' tasks modules are found and imported):
    # without it the registry holds only what earlier tests happened to import.
    app.loader.import_default_modules()
    assert {
        "core.send_outbound_email",
        "core.sweep_outbound_email",
        "subscriptions.apply_due_changes",
    } <= set(app.tasks)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_email_round_trip_through_real_worker_and_smtp(celery_worker, smtp_server):
    with transaction.atomic():
        email = email_outbox.email_queue(
            dedupe_key="welcome-1",
            kind="test",
            to_email="astrid@example.com",
            subject="Tack!",
            body_text="Hej Astrid",
            body_html="<p>Hej Astrid</p>",
        )
        # Nothing is published before the transaction commits.
        assert OutboundEmail.objects.get(pk=email.pk).status == EmailStatus.PENDING

    wait_until(lambda: OutboundEmail.objects.filter(pk=email.pk, status=EmailStatus.SENT).exists())
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert (message["To"], message["Subject"]) == ("astrid@example.com", "Tack!")
    assert message["Message-ID"].startswith(f"<tack-{email.pk}@")
    parts = {part.get_content_type() for part in message.walk()}
    assert {"text/plain", "text/html"} <= parts


BACKEND_PIDS: list[int] = []


@app.task(name="tests.record_backend_pid")
def record_backend_pid() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        BACKEND_PIDS.append(cursor.fetchone()[0])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_reuses_its_database_connection_between_tasks(celery_worker, monkeypatch):
    """Celery's Django fixup used to close the connection around every task, so each task paid
    for a new PostgreSQL connection (most of the outreach drain's time in `make bench`)."""
    from django.db import connection

    # Production keeps connections (CONN_MAX_AGE 60); the test settings do not.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    BACKEND_PIDS.clear()
    for _ in range(3):
        record_backend_pid.delay()
    wait_until(lambda: len(BACKEND_PIDS) == 3)

    assert len(set(BACKEND_PIDS)) == 1
