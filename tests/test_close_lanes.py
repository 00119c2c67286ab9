"""The quarter close's second connection: money and red flags written beside the
scorecards, enablement read beside the deals. Outside a transaction the close uses it;
inside one (a caller's atomic block) it runs the same steps one after the other. Both
must leave the same rows."""

import threading
from contextlib import nullcontext
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction

from incentives.models import LedgerEntry, MdfFund
from partners.models import OutreachTask, Partner, RedFlag, Tier, TierChange
from prm.lanes import Lane
from scoring import services
from scoring.models import QuarterClose, Scorecard
from tests.factories import (
    CertificationFactory,
    DealFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

QUARTER = "2026Q2"


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        yield


def book(manager):
    """Partners that advance, stay, exit, earn rebates and awards, and raise flags."""
    Tier.objects.filter(program__is_default=True, slug="registered").update(revenue_floor=1)
    started = date(2024, 1, 1)
    leaving = PartnerFactory(tier=default_tier("registered"), started_on=started)
    for quarter in ("2025Q3", "2025Q4", "2026Q1"):
        ScorecardFactory(partner=leaving, quarter=quarter, meets_lowest=False)
    person = PartnerUserFactory(partner=leaving).user
    CertificationFactory(partner=leaving, user=person, issued_on=date(2026, 1, 1))
    for i in range(6):
        partner = PartnerFactory(
            tier=default_tier("gold" if i % 2 else "silver"),
            started_on=started,
            channel_manager=manager,
        )
        WonDealFactory(
            partner=partner,
            partner_credit=Decimal(90000 * (i + 1)),
            closed_on=date(2026, 5, 1),
            csat=2 + i % 3,
            csat_recorded_at=datetime(2026, 5, 20, tzinfo=UTC),
        )
        if i != 2:
            CertificationFactory(partner=partner, issued_on=date(2025, 1, 1))
        else:  # only a person who left, keeping a lapsed certification here
            CertificationFactory(
                partner=partner,
                user=person,
                issued_on=date(2024, 1, 1),
                expires_on=date(2026, 3, 1),
            )
        if i == 4:
            for day in range(5):
                DealFactory(
                    partner=partner,
                    submitted_at=datetime(2026, 5, 1 + day, tzinfo=UTC),
                    direct_conflict=day < 2,
                )
    PartnerFactory(channel_manager=manager, started_on=started)  # quiet: no registration


def outcome():
    return (
        sorted(
            Scorecard.objects.filter(quarter=QUARTER).values_list(
                "partner_id",
                "total",
                "band",
                "decision",
                "tier_before_id",
                "tier_after_id",
                "inputs",
            )
        ),
        sorted(
            TierChange.objects.filter(quarter=QUARTER).values_list(
                "partner_id", "cause", "from_tier_id", "to_tier_id", "reason"
            )
        ),
        sorted(Partner.objects.values_list("pk", "tier_id", "status", "latest_score")),
        sorted(RedFlag.objects.values_list("partner_id", "kind", "status")),
        sorted(OutreachTask.objects.values_list("partner_id", "assignee_id", "title")),
        sorted(
            LedgerEntry.objects.values_list(
                "partner_id", "kind", "code", "description", "amount", "status", "due_on"
            )
        ),
        sorted(
            LedgerEntry.history.values_list(
                "partner_id", "code", "history_type", "history_change_reason"
            )
        ),
        sorted(MdfFund.objects.values_list("partner_id", "fiscal_year", "amount", "basis")),
        QuarterClose.objects.values_list(
            "state", "partners_total", "partners_done", "tier_changes", "flags_opened", "rebates"
        ).get(),
    )


def undo(partners):
    """Back to the book as it was before the close."""
    for model in (OutreachTask, RedFlag, MdfFund, Scorecard, QuarterClose):
        model.objects.filter(**({"quarter": QUARTER} if model is Scorecard else {})).delete()
    LedgerEntry.objects.all().delete()
    LedgerEntry.history.all().delete()
    TierChange.objects.filter(quarter=QUARTER).delete()
    for pk, tier_id, status in partners:
        Partner.objects.filter(pk=pk).update(
            tier_id=tier_id, status=status, latest_score=None, latest_score_quarter=""
        )


def test_the_close_beside_and_in_one_transaction_leave_the_same_rows(clock, manager):
    book(manager)
    before = list(Partner.objects.values_list("pk", "tier_id", "status"))

    services.quarter_close(quarter=QUARTER, batch_size=3)  # beside: several batches
    beside = outcome()
    assert any(row[3] == "exit" for row in beside[0])
    assert any(kind == "rebate" for _, kind, *_ in beside[5])
    assert {kind for _, kind, _ in beside[3]} >= {
        "cert_lapsed",
        "no_recent_deal",
        "direct_competition",
    }
    assert beside[-1][0] == "done"

    undo(before)
    with transaction.atomic():  # one connection, one step after the other
        services.quarter_close(quarter=QUARTER, batch_size=3)
    assert outcome() == beside

    services.quarter_close(quarter=QUARTER, batch_size=3)  # and a rerun adds nothing
    assert outcome()[:-1] == beside[:-1]


def test_a_lane_works_on_its_own_connection_outside_a_transaction():
    def backend():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return threading.current_thread().name, cursor.fetchone()[0]

    with Lane("beside") as lane:
        name, pid = lane.submit(backend).result()
    assert name.startswith("beside")
    assert pid != backend()[1]  # another server process: another connection


def test_inside_a_transaction_a_lane_runs_its_work_here_when_asked():
    ran = []
    with transaction.atomic(), Lane("beside") as lane:
        work = lane.submit(lambda: ran.append(threading.current_thread().name) or 7)
        assert ran == []  # nothing yet
        assert work.result() == 7
        assert work.result() == 7  # once
    assert ran == [threading.current_thread().name]


def test_a_lanes_error_surfaces_through_its_result():
    def fails():
        raise ValueError("no")

    for atomic in (False, True):
        with transaction.atomic() if atomic else nullcontext(), Lane("beside") as lane:
            work = lane.submit(fails)
            with pytest.raises(ValueError, match="no"):
                work.result()


def test_a_failure_beside_the_scorecards_fails_the_close(clock, manager, monkeypatch):
    book(manager)

    def broken(*args, **kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(services.incentive_services, "quarter_incentives_accrue", broken)
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        services.quarter_close(quarter=QUARTER, batch_size=3)
    close = QuarterClose.objects.get(quarter=QUARTER)
    assert close.state == "failed" and "ledger unavailable" in close.error
    monkeypatch.undo()
    assert services.quarter_close(quarter=QUARTER).state == "done"  # a rerun finishes it
