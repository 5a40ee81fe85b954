"""Trigram indexes for the managers' voice-of-the-customer search over the cases' own words
(the exit reason in the customer's words and the competitor named).

The expressions are what Django's ``icontains`` writes on PostgreSQL (``UPPER(col::text) LIKE
UPPER(%s)``), so the planner uses them. ``pg_trgm`` ships with PostgreSQL; creating the
extension needs a role allowed to (the database owner on PostgreSQL 13+). Other databases
(the embedded SQLite of ``make run``) search without them."""

from django.db import migrations

TABLE = "cancellations_cancellationcase"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS voice_reason_text_trgm ON {TABLE} "
    "USING gin (UPPER(reason_text::text) gin_trgm_ops) WHERE reason_text <> ''",
    f"CREATE INDEX IF NOT EXISTS voice_competitor_trgm ON {TABLE} "
    "USING gin (UPPER(competitor::text) gin_trgm_ops) WHERE competitor <> ''",
    f"CREATE INDEX IF NOT EXISTS voice_opened_at ON {TABLE} (opened_at) "
    "WHERE reason_text <> '' OR competitor <> ''",
]
BACKWARD = [
    "DROP INDEX IF EXISTS voice_reason_text_trgm",
    "DROP INDEX IF EXISTS voice_competitor_trgm",
    "DROP INDEX IF EXISTS voice_opened_at",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("cancellations", "0007_callbacks_move_to_desk"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
