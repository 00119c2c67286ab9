"""The indexes the long lists, the badge and the dashboard read are declared on their models
and built by the migrations (a query plan on a test's few rows would prove nothing)."""

import pytest
from django.db import connection
from django.db.models import Q

from deals.models import Deal, DealQuarter
from incentives.models import IncentiveClaim, LedgerEntry
from partners.models import Account, Notice, User
from scoring.models import Scorecard

pytestmark = pytest.mark.django_db

EXPECTED = [
    (Deal, "deal_submitted_id", ["submitted_at", "id"], [], None),
    (
        Deal,
        "deal_won_closed",
        ["closed_on"],
        ["partner_credit"],
        Q(status="won", partner_credit__isnull=False),
    ),
    (LedgerEntry, "ledger_earned_id", ["earned_on", "id"], [], None),
    (
        LedgerEntry,
        "ledger_quarter_idx",
        ["quarter", "partner"],
        ["kind", "status", "amount"],
        None,
    ),
    (
        LedgerEntry,
        "ledger_spiff_paid",
        ["paid_at"],
        ["amount", "partner"],
        Q(kind="spiff", status="paid"),
    ),
    (
        DealQuarter,
        "deal_quarter_sums",
        ["quarter", "-won_credit"],
        ["won_deals", "year_credit", "partner"],
        None,
    ),
    (
        DealQuarter,
        "deal_quarter_partner",
        ["partner", "quarter"],
        ["won_credit", "won_deals", "year_credit"],
        None,
    ),
    (Scorecard, "scorecard_quarter", ["quarter", "band"], ["total"], None),
    (User, "user_role", ["role"], [], None),
    (Notice, "notice_partner_user_created", ["partner", "user", "created_at"], [], None),
    (Account, "account_name_idx", ["name"], [], None),
    (IncentiveClaim, "claim_submitted_id", ["submitted_at", "id"], [], None),
]


@pytest.mark.parametrize(("model", "name", "fields", "include", "condition"), EXPECTED)
def test_the_index_is_declared_and_built(model, name, fields, include, condition):
    declared = {index.name: index for index in model._meta.indexes}
    assert name in declared
    index = declared[name]
    assert list(index.fields) == fields
    assert list(index.include) == include
    assert index.condition == condition
    with connection.cursor() as cursor:
        built = connection.introspection.get_constraints(cursor, model._meta.db_table)
    assert name in built and built[name]["index"]
    names = [f.lstrip("-") for f in fields + include]  # "-won_credit": descending
    columns = [model._meta.get_field(f).column if f != "id" else "id" for f in names]
    assert built[name]["columns"] == columns  # the key, then the included columns
