"""Indexes the voice-of-the-customer page counts from without reading a row: the cases with
the customer's own words or a competitor by opening time (with the columns its filters use),
and the cases naming a competitor with the name (for the competitors per month). Both are
partial, so they hold only the cases that said something.

And statistics on the searched expressions (what ``icontains`` compares), so the planner
knows that a common competitor matches thousands of cases: it then walks the newest cases
until it has a page (milliseconds) instead of reading every match and sorting them (a
rare word still goes through the trigram indexes). PostgreSQL only (14 or later for
statistics on an expression), like 0008."""

from django.db import migrations

TABLE = "cancellations_cancellationcase"

FORWARD = [
    "DROP INDEX IF EXISTS voice_opened_at",
    f"CREATE INDEX IF NOT EXISTS voice_opened_at ON {TABLE} (opened_at) "
    "INCLUDE (reason_id, plan_id, channel) WHERE reason_text <> '' OR competitor <> ''",
    f"CREATE INDEX IF NOT EXISTS voice_competitor_by_opened_at ON {TABLE} (opened_at) "
    "INCLUDE (competitor, reason_id, plan_id, channel) WHERE competitor <> ''",
    f"CREATE STATISTICS IF NOT EXISTS voice_reason_words ON (UPPER(reason_text::text)) "
    f"FROM {TABLE}",
    f"CREATE STATISTICS IF NOT EXISTS voice_competitor_words ON (UPPER(competitor::text)) "
    f"FROM {TABLE}",
    f"ANALYZE {TABLE}",
]
BACKWARD = [
    "DROP STATISTICS IF EXISTS voice_reason_words",
    "DROP STATISTICS IF EXISTS voice_competitor_words",
    "DROP INDEX IF EXISTS voice_competitor_by_opened_at",
    "DROP INDEX IF EXISTS voice_opened_at",
    f"CREATE INDEX IF NOT EXISTS voice_opened_at ON {TABLE} (opened_at) "
    "WHERE reason_text <> '' OR competitor <> ''",
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
        ("cancellations", "0010_forget_cases_opened_by_a_page_view"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
