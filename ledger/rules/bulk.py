"""Bulk inserts for the hot paths of a rules run and a reconciliation run: many rows
of plain values, without a model instance per row."""

import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
from django.db import connection

# The JSON of these rows is made of dicts, lists, str, int and bool: msgspec writes the
# same values as the field's `json.dumps` in a fraction of the time.
_JSON = msgspec.json.Encoder()
_EMPTY = {"list": "[]", "dict": "{}"}


def _json_text(value: Any) -> str:
    if not value:
        return _EMPTY["list" if isinstance(value, list) else "dict"]
    return _JSON.encode(value).decode()


def rows_insert(model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """INSERT many rows: `COPY … FROM STDIN` on PostgreSQL, one prepared statement run
    with `executemany` elsewhere.

    `bulk_create` spends most of its time building model instances and per-value SQL
    for 100,000 rows; this binds plain values. JSON values are written as JSON text
    (what the field stores), datetimes through the backend's own adapter. On
    PostgreSQL, Django's psycopg cursors bind parameters client-side, so `executemany`
    sends (and the server parses) one INSERT per row; COPY streams the rows instead,
    about four times faster. Its errors surface as Django's (a lost race is an
    `IntegrityError`) and it is logged in `connection.queries` like any statement.
    """
    ops = connection.ops
    fields = [model._meta.get_field(c.removesuffix("_id")) for c in columns]
    moments: dict[Any, Any] = {}

    def adapt_moment(value: Any) -> Any:
        if value not in moments:
            moments[value] = ops.adapt_datetimefield_value(value)
        return moments[value]

    kinds = [f.get_internal_type() for f in fields]
    json_at = [i for i, kind in enumerate(kinds) if kind == "JSONField"]
    moment_at = [i for i, kind in enumerate(kinds) if kind == "DateTimeField"]
    names = ", ".join(ops.quote_name(f.column) for f in fields)
    table = ops.quote_name(model._meta.db_table)

    def adapted() -> Iterator[list[Any]]:
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = _json_text(values[i])
            for i in moment_at:
                values[i] = adapt_moment(values[i])
            yield values

    if connection.vendor == "postgresql":
        _rows_copy(f"COPY {table} ({names}) FROM STDIN", adapted())
        return
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names from model metadata
    batch: list[list[Any]] = []
    with connection.cursor() as cursor:
        for values in adapted():
            batch.append(values)
            if len(batch) == 5000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def _rows_copy(sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """Stream rows into PostgreSQL with psycopg's COPY (each value adapted by psycopg,
    never formatted here), through Django's error wrapping and query log."""
    count, start = 0, time.monotonic()
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    if connection.queries_logged:
        seconds = time.monotonic() - start
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{seconds:.3f}"})


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block: a run over 100,000 lines allocates
    millions of small acyclic objects (rows, dicts, tuples), and each generation-2
    pass walks them all, a third of a run's CPU time. Refcounting still frees
    everything; cycles made meanwhile are collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
