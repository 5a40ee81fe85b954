"""Fast bulk loading for demo data: COPY on PostgreSQL, executemany elsewhere."""

import io
import json
from collections.abc import Iterable, Sequence

from django.db import connection

CHUNK_ROWS = 50_000


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def write_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` into ``table``; returns how many were written."""
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            pending = 0

            def flush() -> None:
                buffer.seek(0)
                cursor.cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
                buffer.seek(0)
                buffer.truncate()

            for row in rows:
                buffer.write("\t".join(map(_copy_value, row)))
                buffer.write("\n")
                pending += 1
                count += 1
                if pending >= CHUNK_ROWS:
                    flush()
                    pending = 0
            if pending:
                flush()
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            batch = []
            for row in rows:
                batch.append(tuple(row))
                count += 1
                if len(batch) >= 5000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
    return count


def reset_sequences(*tables: str) -> None:
    """After inserting explicit ids, move each table's id sequence past the largest id."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def json_text(value) -> str:
    """Compact JSON for a jsonb column."""
    return json.dumps(value, separators=(",", ":"))
