"""`make backup` and `make restore`: a program's data and uploads written out, restored
into a throwaway database and another uploads folder, and checked against the manifest."""

import json
import os
import secrets
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
import time_machine
from django.db import connection

from incentives.models import MdfProof
from incentives.services.mdf import mdf_claim_submit, mdf_request_approve
from tests.factories import (
    DealFactory,
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    ProductFactory,
    WonDealFactory,
)
from tests.test_incentives import PDF, pdf

ROOT = Path(__file__).resolve().parent.parent
# Only a guard against a command that hangs, never a speed check.
HANG = 1200
# Settings the scripts read, kept out of their environment unless a test gives them.
SCRIPT_SETTINGS = (
    "DATABASE_URL",
    "MEDIA_ROOT",
    "MEDIA_STORAGE",
    "AWS_STORAGE_BUCKET_NAME",
    "BACKUP",
    "BACKUP_DIR",
    "BACKUP_CHECKSUMS",
    "FORCE",
    "VERIFY_ONLY",
)


def make(target: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in SCRIPT_SETTINGS}
    return subprocess.run(
        ["make", "-s", target],
        cwd=ROOT,
        env={**environment, **{k: str(v) for k, v in env.items()}},
        capture_output=True,
        text=True,
        timeout=HANG,
    )


def url_of(name: str) -> str:
    """The URL of database ``name`` on the test database's server."""
    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    return f"postgres://{quote(s['USER'], safe='')}{password}@{host}:{s.get('PORT') or 5432}/{name}"


def row_counts(url: str) -> dict[str, int]:
    """Every table of the database at ``url`` and its number of rows, counted there."""
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        counts = {}
        for schema, table in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    conn.close()
    return counts


@pytest.fixture
def throwaway_database():
    """An empty database of its own on the test server, dropped afterwards."""
    name = f"prm_restore_{secrets.token_hex(4)}"
    admin = psycopg2.connect(url_of("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def media_root(tmp_path, settings):
    """Uploads written to a folder on disk, as in production, rather than in memory."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return root


@pytest.fixture
def program(manager, partner_a, partner_b, a_admin, media_root):
    """Two partners with deals (and their products), ledger entries, and an MDF claim with
    a proof file stored under ``media_root``."""
    products = ProductFactory.create_batch(2)
    for partner in (partner_a, partner_b):
        won = WonDealFactory(partner=partner)
        won.products.set(products)
        DealFactory(partner=partner)
        LedgerEntryFactory.create_batch(3, partner=partner)
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC), tick=False):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        mdf_request_approve(request=request, by=manager)
    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        mdf_claim_submit(
            request=request,
            by=a_admin,
            actual_cost="100",
            leads_generated=3,
            files=[pdf("proof.pdf", PDF + secrets.token_bytes(40_000))],
        )
    return MdfProof.objects.get()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_a_backup_restores_into_an_empty_database_table_by_table(
    program, media_root, tmp_path, throwaway_database
):
    source = url_of(connection.settings_dict["NAME"])
    backup = tmp_path / "backup"
    made = make("backup", DATABASE_URL=source, MEDIA_ROOT=media_root, BACKUP_DIR=backup)
    assert made.returncode == 0, made.stdout + made.stderr
    assert {p.name for p in backup.iterdir()} == {
        "database.dump",
        "media.tar.gz",
        "media.sha256",
        "SHA256SUMS",
        "manifest.json",
    }
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["checksums"] is True
    assert manifest["migrations"]["incentives"].startswith("00")
    assert manifest["tables"]["public.incentives_mdfproof"]["rows"] == 1
    assert manifest["media"]["files"] == 1

    target = url_of(throwaway_database)
    restored_media = tmp_path / "restored-media"
    restored = make("restore", BACKUP=backup, DATABASE_URL=target, MEDIA_ROOT=restored_media)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "row counts and checksums match the manifest" in restored.stdout
    assert "Uploads verified: 1 files" in restored.stdout

    counts = row_counts(source)
    assert counts["public.deals_deal"] == 4 and counts["public.incentives_ledgerentry"] >= 6
    assert counts["public.deals_deal_products"] == 4
    assert row_counts(target) == counts
    stored = program.file.name
    assert (restored_media / stored).read_bytes() == (media_root / stored).read_bytes()

    refused = make("restore", BACKUP=backup, DATABASE_URL=target, MEDIA_ROOT=restored_media)
    assert refused.returncode != 0
    assert f"The database '{throwaway_database}' is not empty" in refused.stderr
    assert "FORCE=1" in refused.stderr
    assert row_counts(target) == counts

    forced = make("restore", BACKUP=backup, DATABASE_URL=target, MEDIA_ROOT=restored_media, FORCE=1)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "dropping the database" in forced.stdout
    assert row_counts(target) == counts

    # A database or an uploaded file that no longer matches the manifest is named.
    tampered = tmp_path / "tampered"
    shutil.copytree(backup, tampered)
    text = (tampered / "manifest.json").read_text()
    line = next(line for line in text.splitlines() if '"public.deals_deal":' in line)
    (tampered / "manifest.json").write_text(
        text.replace(line, line.replace('"rows" : 4', '"rows" : 5'))
    )
    (restored_media / stored).write_bytes(b"%PDF-1.4 another file")
    checked = make(
        "restore", BACKUP=tampered, DATABASE_URL=target, MEDIA_ROOT=restored_media, VERIFY_ONLY=1
    )
    assert checked.returncode != 0
    assert "public.deals_deal: 5 rows in the backup, 4 here" in checked.stderr
    assert f"./{stored}: FAILED" in checked.stderr
    assert "public.deals_product" not in checked.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_a_backup_without_checksums_counts_rows(tmp_path, media_root):
    backup = tmp_path / "backup"
    done = make(
        "backup",
        DATABASE_URL=url_of(connection.settings_dict["NAME"]),
        MEDIA_ROOT=media_root,
        BACKUP_DIR=backup,
        BACKUP_CHECKSUMS=0,
        MEDIA_STORAGE="s3",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["checksums"] is False
    assert {t["checksum"] for t in manifest["tables"].values()} == {None}
    assert manifest["tables"]["public.partners_tier"]["rows"] > 0
    # Uploads in object storage are the bucket's to keep.
    assert manifest["media"]["included"] is False
    assert "object storage" in done.stdout
    assert not (backup / "media.tar.gz").exists()


def test_sqlite_is_refused_with_a_clear_message(tmp_path):
    done = make(
        "backup", DATABASE_URL=f"sqlite:///{tmp_path}/prm.sqlite3", BACKUP_DIR=tmp_path / "b"
    )
    assert done.returncode != 0
    assert "PostgreSQL only" in done.stderr
    assert not (tmp_path / "b").exists()


def test_a_restore_needs_a_backup_with_its_manifest(tmp_path):
    done = make("restore", BACKUP=tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert done.returncode != 0
    assert "has no manifest.json" in done.stderr
