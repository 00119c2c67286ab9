"""Scheduled jobs killed half-way through a real worker, then run again.

The auto-approval of registrations (deals) and the voiding of lapsed incentives (the money
engine's job that changes ledger entries and claims' entries) are each sent to a real
Celery worker, made to stop at a row picked at random, and the worker is killed there
with SIGKILL. The job is then sent again (as beat's next tick would) to a new worker.
Whatever the point: every row is done once, with one history record and (for approvals)
one notice each; no row is lost and none is done twice.

How a job is stopped at a row: a trigger on the row's table takes an advisory lock the
test holds, for that one row's UPDATE, so the job waits there with the rows before it
committed in their own transactions. Run with ``FAULTS_SEED=n`` to replay a point.
"""

import os
import random
import signal
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from deals.models import Deal, DealStatus
from incentives.models import EntryStatus, IncentiveClaim, LedgerEntry
from partners.models import Notice
from prm.celery import app
from tests.factories import DealFactory, LedgerEntryFactory, PartnerFactory
from tests.workers import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

PAUSE_KEY = 7_272_001  # the advisory lock the paused row's UPDATE waits for
AUTO_APPROVED = "Approved automatically (approval SLA passed)"


def seeded() -> random.Random:
    seed = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nFAULTS_SEED={seed}")
    return random.Random(seed)


def someone_waits() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND objid = %s AND NOT granted)",
            [PAUSE_KEY],
        )
        return cursor.fetchone()[0]


@contextmanager
def paused_at(table: str, pk: int):
    """Inside the block, an UPDATE of row ``pk`` of ``table`` waits until the block ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [PAUSE_KEY])
        cursor.execute(
            "CREATE OR REPLACE FUNCTION test_pause() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_advisory_xact_lock({PAUSE_KEY}); RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_pause BEFORE UPDATE ON {table} FOR EACH ROW "
            f"WHEN (OLD.id = {int(pk)}) EXECUTE FUNCTION test_pause()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            # The killed worker's session may still wait in the database: end it (its
            # transaction rolls back) before the trigger can be dropped.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND objid = %s AND NOT granted",
                [PAUSE_KEY],
            )
            cursor.execute(f"DROP TRIGGER IF EXISTS test_pause ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS test_pause()")
            cursor.execute("SELECT pg_advisory_unlock(%s)", [PAUSE_KEY])


def kill_midway(task: str, table: str, pk: int, progress) -> int:
    """Send ``task`` to a worker, let it stop at row ``pk``, kill the worker (SIGKILL);
    returns ``progress()`` as the worker died."""
    app.control.purge()
    worker = start_worker()
    try:
        with paused_at(table, pk):
            app.send_task(task)
            assert wait_for(someone_waits, timeout=60), "the job never reached the row"
            done = progress()
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=20)
    finally:
        if worker.poll() is None:
            worker.kill()
        # The killed task's message stays unacknowledged on the test broker: drop it, so
        # no later worker of the suite picks it up.
        app.control.purge()
        with app.connection_for_write() as broker:
            broker.default_channel.client.delete("unacked", "unacked_index")
    return done


def rerun(task: str, finished) -> None:
    worker = start_worker()
    try:
        app.send_task(task)  # beat's next tick
        assert wait_for(finished, timeout=90), "the rerun did not finish"
    finally:
        stop_worker(worker)


def test_auto_approval_killed_half_way_then_rerun_approves_each_once():
    rng = seeded()
    overdue = timezone.now() - timedelta(hours=72)
    partners = [PartnerFactory() for _ in range(3)]
    deals = [
        DealFactory(partner=partners[i % 3], submitted_at=overdue + timedelta(minutes=i))
        for i in range(12)
    ]
    fresh = DealFactory(partner=partners[0])  # inside its 48 hours: stays pending
    victim = rng.choice(deals)
    ids = [d.pk for d in deals]

    def approved() -> int:
        return Deal.objects.filter(pk__in=ids, status=DealStatus.APPROVED).count()

    before_kill = kill_midway("deals.auto_approve", "deals_deal", victim.pk, approved)
    assert 0 <= before_kill < len(deals)
    assert Deal.objects.get(pk=victim.pk).status == DealStatus.PENDING  # it died there
    print(f"auto-approval killed at a random deal: {before_kill} of 12 approved before")

    rerun("deals.auto_approve", lambda: approved() == len(deals))
    for deal in Deal.objects.filter(pk__in=ids):
        assert (deal.status, deal.auto_approved) == (DealStatus.APPROVED, True)
        records = deal.history.filter(history_change_reason=AUTO_APPROVED).count()
        notices = Notice.objects.filter(text__startswith=f"{deal.customer_name} is approved")
        assert (records, notices.count()) == (1, 1), deal
    assert Deal.objects.get(pk=fresh.pk).status == DealStatus.PENDING


def test_voiding_lapsed_incentives_killed_half_way_then_rerun_voids_each_once():
    rng = seeded()
    today = timezone.localdate()
    partner = PartnerFactory()
    lapsed = [
        LedgerEntryFactory(
            partner=partner, earned_on=today - timedelta(days=60), claim_by=today - timedelta(1)
        )
        for _ in range(6)
    ]
    # Rejected claims whose dispute window closed: each voided in its own transaction.
    for _ in range(3):
        claim = IncentiveClaim.objects.create(
            partner=partner,
            amount=Decimal("1500.00"),
            verify_by=today - timedelta(days=80),
            status="rejected",
            decided_at=timezone.now() - timedelta(days=90),
            rejection_reason="No proof of the win",
        )
        lapsed += [
            LedgerEntryFactory(partner=partner, claim=claim, earned_on=today - timedelta(95))
            for _ in range(2)
        ]
    open_entries = [LedgerEntryFactory(partner=partner) for _ in range(2)]  # still claimable
    victim = rng.choice(lapsed)
    ids = [e.pk for e in lapsed]

    def voided() -> int:
        return LedgerEntry.objects.filter(pk__in=ids, status=EntryStatus.VOID).count()

    before_kill = kill_midway("incentives.void_lapsed", "incentives_ledgerentry", victim.pk, voided)
    assert 0 <= before_kill < len(lapsed)
    assert LedgerEntry.objects.get(pk=victim.pk).status == EntryStatus.ACCRUED
    print(f"voiding killed at a random entry: {before_kill} of {len(ids)} voided before")

    rerun("incentives.void_lapsed", lambda: voided() == len(lapsed))
    for entry in LedgerEntry.objects.filter(pk__in=ids):
        voids = entry.history.filter(status=EntryStatus.VOID).count()
        assert (entry.status, voids) == (EntryStatus.VOID, 1), entry
    for entry in open_entries:
        entry.refresh_from_db()
        assert entry.status == EntryStatus.ACCRUED
