"""The app behind PgBouncer in transaction mode, as managed deployments run it.

`make test` starts PgBouncer on 127.0.0.1:6432 (scripts/services.sh, with
deploy/pgbouncer/pgbouncer.ini). Each test here points the Django connection of every
thread at it, with server-side cursors off as the deployment docs say, and runs what
depends on the database session: registrations and their race, two closes of one quarter
at once, concurrent payment-run exports and every periodic job. Nothing may fail, leak
from one pooled transaction into another, or be done twice.
"""

import csv
import inspect
import io
import threading
from datetime import date
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from deals import services as deal_services
from deals.models import Deal
from incentives.models import LedgerEntry
from prm.celery import app
from scoring.models import QuarterClose, Scorecard
from scoring.services.close import CloseInProgress, quarter_close
from tests.factories import (
    LedgerEntryFactory,
    PartnerFactory,
    PartnerUserFactory,
    WonDealFactory,
    default_tier,
)

PGBOUNCER = {"HOST": "127.0.0.1", "PORT": 6432}


def _pgbouncer_answers() -> bool:
    try:
        psycopg2.connect(dbname="pgbouncer", user="postgres", connect_timeout=2, **_dsn()).close()
    except psycopg2.Error:
        return False
    return True


def _dsn() -> dict:
    return {"host": PGBOUNCER["HOST"], "port": PGBOUNCER["PORT"]}


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("program_data"),
    pytest.mark.skipif(
        not _pgbouncer_answers(),
        reason="PgBouncer is not running on 127.0.0.1:6432 (apt-get install pgbouncer; "
        "scripts/services.sh starts it)",
    ),
]


def pgbouncer_console(*commands: str) -> list[list[dict]]:
    """Commands of PgBouncer's admin console; the rows each answered."""
    admin = psycopg2.connect(dbname="pgbouncer", user="postgres", **_dsn())
    admin.autocommit = True
    answers = []
    try:
        with admin.cursor() as cursor:
            for command in commands:
                cursor.execute(command)
                names = [column.name for column in cursor.description or ()]
                rows = cursor.fetchall() if cursor.description else []
                answers.append([dict(zip(names, row, strict=True)) for row in rows])
    finally:
        admin.close()
    return answers


def transactions_through_pgbouncer() -> int:
    """PgBouncer's own count of the transactions it has pooled."""
    (stats,) = pgbouncer_console("SHOW STATS")
    return sum(row["total_xact_count"] for row in stats)


@pytest.fixture(autouse=True)
def pooled(transactional_db):
    """Every connection of the test (this thread's and each new thread's) goes through
    PgBouncer, to the test database; the direct connection comes back afterwards for the
    flush."""
    settings_dict = connections["default"].settings_dict
    before = {key: settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    settings_dict.update(PGBOUNCER, DISABLE_SERVER_SIDE_CURSORS=True)
    counted = transactions_through_pgbouncer()
    try:
        yield
    finally:
        went_through = transactions_through_pgbouncer() > counted
        connection.close()
        settings_dict.update(before, DISABLE_SERVER_SIDE_CURSORS=False)
        # PgBouncer keeps its server connections to the test database open: end them, so
        # that the next test starts afresh and the test database can be dropped at the end.
        name = settings_dict["NAME"]
        pgbouncer_console(f"KILL {name}", f"RESUME {name}")
    assert went_through, "nothing went through PgBouncer"


def all_at_once(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; each thread's result, or
    the exception it raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index):
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # returned to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def register(partner, user, customer: str, domain: str) -> Deal:
    return deal_services.deal_register(
        partner=partner,
        submitted_by=user,
        customer_name=customer,
        customer_domain=domain,
        amount="50000.00",
        expected_close=date(2027, 3, 31),
        deal_type="new_logo",
        compensation_model="reseller",
    )


def test_registrations_and_their_race_hold_through_pgbouncer():
    partners = [PartnerFactory() for _ in range(8)]
    users = [PartnerUserFactory(partner=partner).user for partner in partners]

    # Each its own customer: all pending.
    own = all_at_once(
        8, lambda i: register(partners[i], users[i], f"Own {i} Ltd", f"own{i}.example")
    )
    assert [deal.status for deal in own] == ["pending"] * 8, own

    # One customer for all: the first wins, the others are refused, none fails.
    race = all_at_once(8, lambda i: register(partners[i], users[i], "Contested", "race.example"))
    assert not [r for r in race if isinstance(r, Exception)], race
    outcomes = sorted((deal.status, deal.reason) for deal in race)
    assert outcomes.count(("pending", "")) == 1
    assert outcomes.count(("rejected", "registered_by_another_partner")) == 7
    assert Deal.objects.filter(account__domain_key="race.example", status="pending").count() == 1


def test_two_closes_of_one_quarter_at_once_run_it_once():
    for i in range(6):
        partner = PartnerFactory(tier=default_tier("gold" if i % 2 else "silver"))
        WonDealFactory(
            partner=partner, partner_credit=Decimal(40000 * i), closed_on=date(2026, 5, 1)
        )

    results = all_at_once(2, lambda i: quarter_close(quarter="2026Q2"))
    ran = [r for r in results if isinstance(r, QuarterClose)]
    refused = [r for r in results if isinstance(r, CloseInProgress)]
    # Either the second found the first running, or it came after it had finished and
    # closed again (same scorecards); never two at once, never an error.
    assert len(ran) + len(refused) == 2, results
    close = QuarterClose.objects.get(quarter="2026Q2")
    assert close.state == "done" and close.runs == len(ran)
    assert Scorecard.objects.filter(quarter="2026Q2").count() == 6

    # Nothing of the close (no lock, no setting) stays on the pooled server connections:
    # the next close runs at once.
    again = quarter_close(quarter="2026Q2")
    assert again.state == "done" and again.runs == len(ran) + 1


def test_concurrent_payment_run_exports_each_hold_their_own_rows(finance):
    partner = PartnerFactory()
    months = {month: [] for month in range(1, 7)}
    for month, ids in months.items():
        for day in (3, 17):
            entry = LedgerEntryFactory(partner=partner, kind="rebate", claim_by=None)
            LedgerEntry.objects.filter(pk=entry.pk).update(
                status="approved", due_on=date(2027, month, day)
            )
            ids.append(str(entry.pk))

    def export(index):
        month = index % 6 + 1
        client = APIClient()
        client.force_authenticate(finance)
        response = client.get(
            f"/api/v1/ledger/export/?due_from=2027-{month:02}-01&due_to=2027-{month:02}-28"
        )
        assert response.status_code == 200, response.content
        rows = csv.DictReader(io.StringIO(response.content.decode()))
        return month, sorted(row["entry"] for row in rows)

    results = all_at_once(24, export)
    assert not [r for r in results if isinstance(r, Exception)], results
    for month, entries in results:
        assert entries == sorted(months[month]), month


def test_every_periodic_job_runs_through_pgbouncer():
    """Every job of the project that takes no arguments (the periodic ones), run as the
    worker runs it; run twice, the second finds nothing more to do or redoes the same."""
    app.loader.import_default_modules()  # every app's tasks.py
    jobs = sorted(
        name
        for name, task in app.tasks.items()
        if name.split(".")[0] in {"deals", "incentives", "enablement", "scoring", "partners", "prm"}
        and not [p for p in inspect.signature(task.run).parameters.values() if p.default is p.empty]
    )
    assert "deals.auto_approve" in jobs and "scoring.refresh_red_flags" in jobs
    for name in jobs:
        app.tasks[name]()
        app.tasks[name]()
