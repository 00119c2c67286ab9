"""The quarter close through a real worker, and killed half-way then run again."""

import os
import signal
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from partners.models import Partner, TierChange
from scoring.models import QuarterClose, Scorecard
from scoring.tasks import close_quarter
from tests.factories import CertificationFactory, PartnerFactory, WonDealFactory, default_tier
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]
ROOT = Path(__file__).resolve().parent.parent
QUARTER = "2026Q2"  # ended before the suite's "today"


def make_partners(count: int) -> list[Partner]:
    partners = []
    for i in range(count):
        partner = PartnerFactory(tier=default_tier("gold" if i % 2 else "silver"))
        WonDealFactory(
            partner=partner, partner_credit=Decimal(40000 * i), closed_on=date(2026, 5, 1)
        )
        CertificationFactory(partner=partner, issued_on=date(2025, 1, 1))
        partners.append(partner)
    return partners


def snapshot():
    return (
        sorted(
            Scorecard.objects.values_list(
                "partner_id", "total", "band", "decision", "tier_after_id"
            )
        ),
        sorted(
            TierChange.objects.exclude(cause="initial").values_list(
                "partner_id", "quarter", "cause", "to_tier_id"
            )
        ),
        sorted(Partner.objects.values_list("pk", "tier_id", "status", "latest_score")),
    )


def test_the_close_runs_through_a_real_worker(celery_worker_process):
    make_partners(4)
    close_quarter.delay(QUARTER)
    assert wait_for(
        lambda: QuarterClose.objects.filter(quarter=QUARTER, state="done").exists(), timeout=90
    ), celery_worker_process
    assert Scorecard.objects.filter(quarter=QUARTER).count() == 4


def test_killed_half_way_then_rerun_gives_what_one_clean_run_gives():
    partners = make_partners(6)
    original = {p.pk: (p.tier_id, p.status) for p in partners}
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="prm.settings.test",
        TEST_DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
    )
    blocker = partners[3]
    # Hold the row of a partner in the second batch: the close commits batch one, then waits.
    with transaction.atomic():
        Partner.objects.select_for_update().get(pk=blocker.pk)
        run = subprocess.Popen(
            [sys.executable, "manage.py", "close_quarter", QUARTER, "--batch-size", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert wait_for(
            lambda: QuarterClose.objects.filter(quarter=QUARTER, partners_done__gte=2).exists(),
            timeout=60,
        ), run.stdout.read1().decode() if run.poll() is not None else "close did not start"
        os.kill(run.pid, signal.SIGKILL)  # the worker dies mid-close
        run.wait(timeout=10)
    half = Scorecard.objects.filter(quarter=QUARTER).count()
    assert 2 <= half < 6
    assert QuarterClose.objects.get(quarter=QUARTER).state == "running"  # as it died

    from scoring.services.close import STALE_AFTER, quarter_close

    # The killed run's heartbeat goes stale: the next run takes the close over.
    with time_machine.travel(timezone.now() + STALE_AFTER, tick=True):
        quarter_close(quarter=QUARTER, batch_size=2)
    after_rerun = snapshot()
    assert QuarterClose.objects.get(quarter=QUARTER).state == "done"

    # The same data closed once, cleanly.
    Scorecard.objects.all().delete()
    TierChange.objects.exclude(cause="initial").delete()
    QuarterClose.objects.all().delete()
    for pk, (tier_id, status) in original.items():
        Partner.objects.filter(pk=pk).update(
            tier_id=tier_id, status=status, latest_score=None, latest_score_quarter=""
        )
    quarter_close(quarter=QUARTER, batch_size=6)
    assert snapshot() == after_rerun
