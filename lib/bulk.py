"""Many rows of a model in one statement, for the hot path's batched writers.

The ORM's `bulk_create` builds a model instance and calls `get_db_prep_save` per field per row;
for the gateway's batches (RequestLog rows, usage ledger entries) that cost more CPU than the
write itself, and it runs in a pool thread holding the GIL while requests wait. Here the rows
are dicts already holding the right Python types: only datetimes (the backend's adaptation) and
JSON fields (serialised once) are converted. Missing keys take the field's default.

On PostgreSQL the rows go in with COPY: a third less CPU here than a prepared `executemany`
and half the server's time (one command instead of one INSERT per row).
"""

from __future__ import annotations

import operator
from contextlib import nullcontext
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from lib import jsonio
from lib.threads import yielding


def insert_rows(model: type[Model], rows: list[dict[str, Any]], *, skip_conflicts: bool = False) -> None:
    """INSERT `rows` (dicts keyed by field attname) in one statement; with `skip_conflicts`,
    rows violating a unique constraint are skipped (ON CONFLICT DO NOTHING) instead of failing."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [(f.attname, f.get_default()) for f in fields]
    # Rows that have every field (the usual case) are read in one C call.
    every = operator.itemgetter(*(name for name, _ in names)) if len(names) > 1 else _one(names[0][0])
    as_json = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    convert = [(i, _json_text) for i, f in enumerate(fields) if f.attname in as_json]
    if connection.vendor != "postgresql":  # psycopg takes datetimes as they are
        adapt = connection.ops.adapt_datetimefield_value
        convert += [(i, adapt) for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"]
    params = []
    for row in yielding(rows):
        try:
            values = list(every(row))
        except KeyError:
            values = [row.get(name, default) for name, default in names]
        for i, to_db in convert:
            values[i] = to_db(values[i])
        params.append(values)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(str(f.column)) for f in fields)
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    placeholders = ", ".join(f"%s{cast}" if f.attname in as_json else "%s" for f in fields)
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if connection.vendor == "postgresql":
        _copy(model, columns, params, sql if skip_conflicts else None)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _one(name: str) -> Any:
    return lambda row: (row[name],)


def _json_text(value: Any) -> str:
    return jsonio.dumps(value).decode()


def _copy(model: type[Model], columns: str, params: list[list[Any]], skipping_sql: str | None) -> None:
    """COPY the rows in. If one breaks a unique constraint (a batch retried after a write that did
    land), `skipping_sql` (INSERT ... ON CONFLICT DO NOTHING) writes the others; without it,
    Django's IntegrityError is raised, as the ORM would raise it."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    table = connection.ops.quote_name(model._meta.db_table)
    # Inside a transaction, a failed COPY that is to be retried needs a savepoint to roll back to.
    savepoint = transaction.atomic() if skipping_sql is not None and connection.in_atomic_block else nullcontext()
    try:
        with savepoint, psycopg.Cursor(raw) as cursor:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in yielding(params):
                    copy.write_row(row)
    except psycopg.IntegrityError as exc:  # the raw cursor raises psycopg's errors, not Django's
        if skipping_sql is None:
            raise IntegrityError(*exc.args) from exc
        # Server-side binding: psycopg sends the parameters apart from one prepared statement
        # instead of quoting every value of every row into the SQL text in Python.
        with psycopg.Cursor(raw) as cursor:
            cursor.executemany(skipping_sql, params)
