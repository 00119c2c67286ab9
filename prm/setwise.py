"""Rows from Python as a table in SQL, for set-wise writes (one statement for many rows).

``INSERT ... SELECT ... FROM <rows>`` or ``UPDATE ... FROM <rows>`` writes thousands of
rows in one statement, with parameters whose number does not grow with the rows: on
PostgreSQL one typed array per column (``unnest``), elsewhere (the embedded SQLite) one
JSON document (``json_each``). The statement around it is the same on both.
"""

import json
from collections.abc import Sequence
from decimal import Decimal

from django.db import connection

Column = tuple[str, str]  # (name, PostgreSQL type: bigint, text, numeric, boolean, jsonb, ...)

# Types whose values print as their own array-literal elements (numbers, booleans, dates):
# one string per column is far cheaper to send and to parse than one parameter per value.
_LITERAL = {"bigint", "integer", "smallint", "numeric", "date", "boolean"}


def rows_source(
    columns: Sequence[Column], rows: Sequence[tuple], *, vendor: str | None = None
) -> tuple[str, list]:
    """A FROM item named ``c`` yielding ``rows`` as ``columns``, and its parameters.

    Each row is a tuple in the order of ``columns``; a ``jsonb`` value is JSON text. On
    SQLite the types are left to the columns written (as Django's own inserts do).
    ``vendor``: the database's (default: the default connection's), for a caller that
    prepares statements away from the connection's thread.
    """
    names = ", ".join(name for name, _ in columns)
    if (vendor or connection.vendor) == "postgresql":
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        arrays = [
            _array_literal(column, kind) if kind in _LITERAL else list(column)
            for column, (_, kind) in zip(values, columns, strict=True)
        ]
        types = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        return f"unnest({types}) AS c ({names})", arrays
    picks = ", ".join(
        f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(columns)
    )
    return f"(SELECT {picks} FROM json_each(%s)) AS c", [json.dumps(rows, default=_plain)]


def _array_literal(values: Sequence, kind: str) -> str:
    """``{1,2,NULL}``: a PostgreSQL array literal of numbers, booleans or dates."""
    if kind == "boolean":
        items = ("NULL" if v is None else "t" if v else "f" for v in values)
    else:
        items = ("NULL" if v is None else str(v) for v in values)
    return "{" + ",".join(items) + "}"


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")
