"""Inserts written by hand, where one statement does what the ORM would need several for
(a sequence number taken in the insert, an insert that skips a duplicate key)."""

from django.db import connection
from django.db.models import Model


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
