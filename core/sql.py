"""Statements written by hand: inserts and updates where one statement does what the ORM
would need several for (a sequence number taken in the insert, an insert that skips a
duplicate key, many rows updated to values of their own), and the statements run most (the
customer flow's reads, the case and subscription locks, change marks, the outbox email's
claim and record), prepared once per connection. Each falls back to the ORM, or is plain
SQL, on the embedded SQLite of `make run`."""

import functools
import hashlib
import weakref
from collections.abc import Iterable

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Model


def insert_columns(instance: Model, *, exclude: tuple[str, ...] = ()) -> tuple[list[str], list]:
    """The quoted columns and database values of a new instance's concrete fields (all but
    the primary key and ``exclude``), as ``Model.save`` would insert them."""
    quote = connection.ops.quote_name
    fields = [
        f for f in instance._meta.concrete_fields if not f.primary_key and f.name not in exclude
    ]
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    return [quote(f.column) for f in fields], values


def inserted(instance: Model, pk) -> None:
    """Mark ``instance`` as the saved row ``pk`` (after an insert written by hand)."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_unless_taken(instance: Model, *, unique: str) -> bool:
    """Insert a new instance unless a row already holds its value of the ``unique`` field,
    in one statement (INSERT … ON CONFLICT DO NOTHING RETURNING: no look-up first, no
    savepoint). True, with the instance saved, if it was new."""
    meta = instance._meta
    quote = connection.ops.quote_name
    columns, values = insert_columns(instance)
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(values))}) "
        f"ON CONFLICT ({quote(meta.get_field(unique).column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        row = cursor.fetchone()
    if row is None:
        return False
    inserted(instance, row[0])
    return True


def update_from_values(model: type[Model], *, fields: list[str], rows: list[tuple]) -> int:
    """Set ``fields`` of many rows to values of their own in one statement: ``rows`` are
    (primary key, value of each field). What ``bulk_update`` does with a CASE per field and
    row (costly to build in Python for a hundred rows), as UPDATE … FROM (VALUES …)."""
    if not rows:
        return 0
    meta = model._meta
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`
        instances = []
        for pk, *values in rows:
            instance = model(pk=pk)
            for name, value in zip(fields, values, strict=True):
                setattr(instance, meta.get_field(name).attname, value)
            instances.append(instance)
        return model.objects.bulk_update(instances, fields)
    quote = connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    # Text as text, not varchar(n): a value too long is then refused on assignment to the
    # column, as bulk_update's would be, where a cast to varchar(n) would cut it short.
    types = ["text" if isinstance(f, CharField) else f.db_type(connection) for f in columns]
    placeholder = "(" + ", ".join(f"%s::{db_type}" for db_type in types) + ")"
    names = ", ".join(quote(f"v_{f.column}") for f in columns)
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f'v_{f.column}')}" for f in columns[1:])
    statement = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(rows))}) "
        f"AS v({names}) WHERE {table}.{quote(meta.pk.column)} = v.{quote(f'v_{meta.pk.column}')}"
    )
    params = [
        f.get_db_prep_save(value, connection)
        for row in rows
        for f, value in zip(columns, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


# The statements each database connection has prepared (by the raw connection, so a new
# connection — after a restart, or CONN_MAX_AGE — prepares them again).
_prepared: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def _preparation(statement: str) -> tuple[str, str]:
    """A statement's name and its ``PREPARE`` (placeholders numbered), once per process."""
    name = "tack_" + hashlib.sha256(statement.encode()).hexdigest()[:16]
    pieces = statement.split("%s")
    body = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
    return name, f"PREPARE {name} AS {body}"


def execute_prepared(
    cursor, statement: str, params: list, *, without_waiting_for_disk: bool = False
) -> None:
    """Run a statement written by hand (``%s`` placeholders) that runs on every request or
    every email: on PostgreSQL it is prepared once per connection (``PREPARE``, then
    ``EXECUTE``), so the server plans its joins once instead of on every request (about
    0.7 ms of the server's CPU for the flow's five-table statement). Elsewhere, and with
    ``TACK_PREPARED_STATEMENTS`` off (a pooler that does not keep sessions), it is simply
    executed.

    ``without_waiting_for_disk``: a write outside any transaction (autocommit) that may be
    lost if PostgreSQL itself crashes within a fraction of a second (never if only this
    process does) is committed without waiting for the write-ahead log to reach the disk
    (``synchronous_commit`` off for that statement alone, in the same round trip). Only
    for a write whose loss the caller's promise covers (``core.outbox.email``).
    """
    asynchronous = (
        without_waiting_for_disk
        and connection.vendor == "postgresql"
        and connection.get_autocommit()
    )
    before = "SET LOCAL synchronous_commit TO OFF; " if asynchronous else ""
    if connection.vendor != "postgresql" or not settings.TACK_PREPARED_STATEMENTS:
        cursor.execute(before + statement, params)
        return
    name, preparation = _preparation(statement)
    prepared = _prepared.setdefault(connection.connection, set())
    if name not in prepared:
        cursor.execute(preparation)
        prepared.add(name)
    arguments = f"({', '.join(['%s'] * len(params))})" if params else ""  # "name()" is refused
    cursor.execute(f"{before}EXECUTE {name}{arguments}", params)


def prepared_row(statement: str, params: list) -> tuple | None:
    """The one row (or None) a statement run through ``execute_prepared`` returns."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, statement, params)
        return cursor.fetchone()


# --- Rows of hand-written reads as model instances ------------------------------------------


def select_list(alias: str, model: type[Model]) -> list[str]:
    """``model``'s columns under the table alias ``alias``, in its concrete fields' order."""
    quote = connection.ops.quote_name
    return [f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields]


def instance_from_row(model: type[Model], values: list) -> Model | None:
    """An instance of ``model`` from its columns of a row (``select_list``'s order) through
    ``Model.from_db`` and each field's database converters, as the ORM would; None for an
    outer join that found nothing."""
    fields = model._meta.concrete_fields
    if values[[f.primary_key for f in fields].index(True)] is None:
        return None
    converted = []
    for field, value in zip(fields, values, strict=True):
        if value is not None:
            for converter in field.get_db_converters(connection):
                value = converter(value, field.cached_col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def instances_from_row(models: Iterable[type[Model]], row: tuple) -> list[Model | None]:
    """One instance per model from a row that selects each one's columns in turn."""
    instances, at = [], 0
    for model in models:
        width = len(model._meta.concrete_fields)
        instances.append(instance_from_row(model, list(row[at : at + width])))
        at += width
    return instances
