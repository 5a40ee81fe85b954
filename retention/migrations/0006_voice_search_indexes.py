"""Trigram indexes for the voice-of-the-customer page's search over cancellation cases' own
words (the exit reason in the customer's words and the competitor named).

They sit on the cancellations app's table because only this page searches it; the
expressions are what Django's ``icontains`` writes on PostgreSQL (``UPPER(col::text) LIKE
UPPER(%s)``), so the planner uses them. ``pg_trgm`` ships with PostgreSQL; creating the
extension needs a role allowed to (the database owner on PostgreSQL 13+)."""

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


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0005_rollup_totals_scope_outreach_funnel"),
        ("cancellations", "0005_rollup_indexes"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
