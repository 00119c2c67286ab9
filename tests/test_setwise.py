"""prm.setwise: rows from Python read back as a table, whatever their values."""

import json
from decimal import Decimal

import pytest
from django.db import connection

from prm.setwise import rows_source

pytestmark = pytest.mark.django_db

COLUMNS = (
    ("id", "bigint"),
    ("amount", "numeric"),
    ("flag", "boolean"),
    ("label", "text"),
    ("doc", "jsonb"),
)


def read_back(rows):
    source, params = rows_source(COLUMNS, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.amount, c.flag, c.label, c.doc FROM {source} ORDER BY c.id", params
        )
        rows = cursor.fetchall()
    # Django reads jsonb as its text: parse it back.
    return [(*row[:4], None if row[4] is None else json.loads(row[4])) for row in rows]


def test_values_come_back_as_they_went_in_nulls_quotes_and_all():
    tricky = 'O\'Brien "NULL", {a,b} \\ end'
    document = json.dumps({"note": tricky, "n": 1, "none": None})
    rows = [
        (1, Decimal("12345.67"), True, tricky, document),
        (2, Decimal("0.00"), False, "NULL", json.dumps({})),
        (3, None, None, None, None),
        (4, Decimal("-0.5"), True, "", json.dumps([1, "two"])),
    ]
    back = read_back(rows)
    assert [row[0] for row in back] == [1, 2, 3, 4]
    assert [row[1] for row in back] == [Decimal("12345.67"), Decimal("0.00"), None, Decimal("-0.5")]
    assert [row[2] for row in back] == [True, False, None, True]
    assert [row[3] for row in back] == [tricky, "NULL", None, ""]
    assert back[0][4] == {"note": tricky, "n": 1, "none": None}
    assert (back[1][4], back[2][4], back[3][4]) == ({}, None, [1, "two"])


def test_no_rows_is_an_empty_table():
    assert read_back([]) == []


def test_the_parameters_do_not_grow_with_the_rows():
    few = rows_source(COLUMNS, [(i, Decimal(i), True, "x", "{}") for i in range(3)])[1]
    many = rows_source(COLUMNS, [(i, Decimal(i), True, "x", "{}") for i in range(3000)])[1]
    assert len(few) == len(many) <= len(COLUMNS)
