"""Fast bulk loading for demo data: COPY on PostgreSQL, executemany elsewhere."""

import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import connection

CHUNK_ROWS = 50_000

# Formatting timestamps is most of the cost of writing COPY text: a UTC timestamp is its
# day's text (cached) plus its time of day's text (a table), instead of isoformat().
_TIME_OF_DAY = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
_DAY_TEXT: dict[int, str] = {}


def _day(value: datetime) -> str:
    ordinal = value.toordinal()
    text = _DAY_TEXT.get(ordinal)
    if text is None:
        text = _DAY_TEXT[ordinal] = value.date().isoformat()
    return text


def _seconds(value: datetime) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def timestamp_text(value: datetime) -> str:
    """A timestamp as COPY reads it."""
    if value.tzinfo is not UTC or value.microsecond:
        return value.isoformat()
    return f"{_day(value)} {_TIME_OF_DAY[_seconds(value)]}+00"


def iso_text(value: datetime) -> str:
    """``value.isoformat()`` for the demo's UTC timestamps, for JSON snapshots."""
    if value.tzinfo is not UTC or value.microsecond:
        return value.isoformat()
    return f"{_day(value)}T{_TIME_OF_DAY[_seconds(value)]}+00:00"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# COPY's NULL marker. Not the default \N: without a backslash of its own, a line needs
# escaping only if its data has a backslash, tab or newline, which one look at the whole
# line tells (the demo's text almost never has one).
NULL = "\x7f"
_TIMESTAMPS: dict[datetime, str] = {}  # a subscription's times recur in several rows


def _timestamp(value: datetime) -> str:
    text = _TIMESTAMPS.get(value)
    if text is None:
        if len(_TIMESTAMPS) > 200_000:
            _TIMESTAMPS.clear()
        text = _TIMESTAMPS[value] = timestamp_text(value)
    return text


_TEXT_OF = {
    type(None): lambda value: NULL,
    bool: lambda value: "t" if value else "f",
    int: int.__repr__,
    Decimal: Decimal.__str__,
    date: date.isoformat,
    datetime: _timestamp,
}


def copy_line(row: Sequence) -> str:
    """One row in COPY's text format (with NULL as the NULL marker)."""
    text_of = _TEXT_OF
    line = "\t".join(
        [
            value if value.__class__ is str else text_of.get(value.__class__, str)(value)
            for value in row
        ]
    )
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != len(row) - 1:
        line = "\t".join(
            [
                _escaped(value)
                if value.__class__ is str
                else text_of.get(value.__class__, str)(value)
                for value in row
            ]
        )
    return line


def _column_list(columns: Sequence[str]) -> str:
    return ", ".join(map(connection.ops.quote_name, columns))


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return f"COPY {table} ({_column_list(columns)}) FROM STDIN WITH (NULL '{NULL}')"


def _parameter(value):
    """A value as the ORM would pass it (on SQLite, times are stored as naive UTC)."""
    if value.__class__ is datetime:
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _execute_many(sql: str, rows: Sequence[Sequence]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            batch = rows[start : start + 5000]
            cursor.executemany(sql, [[_parameter(value) for value in row] for row in batch])


def _insert_many(table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
    placeholders = ", ".join(["%s"] * len(columns))
    _execute_many(f"INSERT INTO {table} ({_column_list(columns)}) VALUES ({placeholders})", rows)


def update_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Set ``columns`` of the rows with the given ids; each row is its values, then its id."""
    assignments = ", ".join(f"{connection.ops.quote_name(column)} = %s" for column in columns)
    _execute_many(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)


def write_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert ``rows`` into ``table``; returns how many were written."""
    count = 0
    batch: list[Sequence] = []
    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= CHUNK_ROWS:
            _write_batch(table, columns, batch)
            batch = []
    if batch:
        _write_batch(table, columns, batch)
    return count


def _write_batch(table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
    if connection.vendor == "postgresql":
        text = "\n".join(map(copy_line, rows)) + "\n"
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(_copy_sql(table, columns), io.StringIO(text), len(text))
    else:
        _insert_many(table, columns, rows)


class _CopyThread(threading.Thread):
    """Runs the COPY statements handed to it, one after another, on the given connection."""

    def __init__(self, raw_connection):
        super().__init__(name="demo-copy", daemon=True)
        self.raw_connection = raw_connection
        self.jobs: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        with self.raw_connection.cursor() as cursor:
            while (job := self.jobs.get()) is not None:
                if self.error is not None:
                    continue
                sql, text = job
                try:
                    cursor.copy_expert(sql, io.StringIO(text), len(text))
                except BaseException as error:  # handed to the generating thread
                    self.error = error


class RowSink:
    """Rows for several tables, written in batches while the caller generates more.

    On PostgreSQL the COPY runs in a second thread: psycopg2 lets go of the GIL while the
    server takes the data, so PostgreSQL loads one batch on the other core while Python
    formats the next. The caller must not use the database connection until ``close()``.
    Elsewhere each batch is inserted at once.
    """

    def __init__(self, columns: dict[str, Sequence[str]]):
        self.columns = columns
        self.rows: dict[str, list[Sequence]] = {table: [] for table in columns}
        self.written = dict.fromkeys(columns, 0)
        self._thread: _CopyThread | None = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self._thread = _CopyThread(connection.connection)
            self._thread.start()

    def flush(self) -> None:
        """Hand over the rows collected so far (the lists are emptied in place, so callers
        may keep appending to them)."""
        for table, rows in self.rows.items():
            if rows:
                self._write(table, rows)
                self.written[table] += len(rows)
                rows.clear()

    def _write(self, table: str, rows: list[Sequence]) -> None:
        if self._thread is None:
            _insert_many(table, self.columns[table], rows)
            return
        self._raise_copy_error()
        text = "\n".join(map(copy_line, rows)) + "\n"
        self._thread.jobs.put((_copy_sql(table, self.columns[table]), text))

    def _raise_copy_error(self) -> None:
        if self._thread is not None and self._thread.error is not None:
            raise self._thread.error

    def close(self) -> None:
        """Wait until everything handed over is in the database."""
        if self._thread is not None:
            self._thread.jobs.put(None)
            self._thread.join()
            self._raise_copy_error()
            self._thread = None

    def __enter__(self) -> "RowSink":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.flush()
        self.close()


_CONSTRAINTS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
    FROM pg_constraint
    WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')
    ORDER BY contype DESC, 1, 2
"""
_INDEXES = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND i.indpred IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
      )
    ORDER BY 1
"""


@contextmanager
def bulk_load(*tables: str) -> Iterator[None]:
    """Load ``tables`` without their secondary indexes, unique and foreign-key constraints,
    then put them back: one sort per index and one join per foreign key, instead of a b-tree
    insert and a deferred trigger per row (this is how pg_restore loads). Partial indexes
    stay: they cover few rows, and rebuilding one from its definition can reword its
    condition. A failure rolls the whole transaction back, the dropped definitions with it.
    PostgreSQL only.
    """
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # A table with deferred checks still pending cannot be altered: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(_CONSTRAINTS, [list(tables)])
        constraints = cursor.fetchall()
        cursor.execute(_INDEXES, [list(tables)])
        indexes = cursor.fetchall()
        for table, name, _definition in reversed(constraints):
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    analyze(*tables)


def analyze(*tables: str) -> None:
    """Give the query planner statistics for rows this transaction just loaded (autovacuum
    cannot see them before the commit); without them it picks plans that take minutes."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


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


class IdCounter:
    """Hands out ids per table: the demo writes its rows with explicit ids."""

    def __init__(self, first: dict[str, int]):
        self._next = dict(first)

    def next(self, name: str) -> int:
        value = self._next[name]
        self._next[name] = value + 1
        return value

    def peek(self, name: str) -> int:
        return self._next[name]


def next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def json_text(value) -> str:
    """Compact JSON for a jsonb column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
