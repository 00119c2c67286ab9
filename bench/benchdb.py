"""What every bench script shares: the environment and a throwaway PostgreSQL database.

Import it first: it puts the project on ``sys.path`` and sets the settings defaults
before Django loads.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
URL = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench")
os.environ["DJANGO_SETTINGS_MODULE"] = "prm.settings.local"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("EMAIL_URL", "memorymail://")  # registrations and flags e-mail managers


def _server():
    import psycopg2

    parts = urlsplit(URL)
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn, parts.path.lstrip("/")


def recreate_database(template: str | None = None) -> None:
    """Drop and create the database named in DATABASE_URL (never a real one: it is wiped),
    empty or as a copy of the database ``template``."""
    conn, name = _server()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        # FILE_COPY: copied as files between two checkpoints, not written to the WAL again
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        cur.execute(f'CREATE DATABASE "{name}"{copy}')
    conn.close()


def save_database(copy: str) -> None:
    """Copy the database named in DATABASE_URL to ``copy`` (replaced), so that a later run
    can start from it with ``recreate_database(template=copy)``; needs no open session."""
    conn, name = _server()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        cur.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}" STRATEGY FILE_COPY')
    conn.close()


def drop_secondary_indexes(cur, table: str) -> list[str]:
    """Drop the table's indexes that back no constraint; return their definitions, so a
    bulk load can rebuild them afterwards exactly as the migrations define them."""
    cur.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        """,
        [table],
    )
    rows = cur.fetchall()
    for name, _ in rows:
        cur.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]


def resum_quarters() -> float:
    """Sum every summed quarter again, as the nightly job would after a bulk load that
    bypassed the services (the demo's quarters are summed before the load); seconds."""
    import time

    from deals.models import SummarizedQuarter
    from deals.services import deal_quarter_summarize

    start = time.perf_counter()
    for label in SummarizedQuarter.objects.values_list("quarter", flat=True):
        deal_quarter_summarize(quarter=label)
    return time.perf_counter() - start
