"""Every row the quarter close writes, compared with the rows it wrote on the same book
before its writes went through the lower apps' services (tests/data/close_outcome.json):
scorecards, tier changes, partners, red flags, outreach tasks, ledger entries and their
history, MDF funds and the close record. The close in a caller's transaction, and a rerun,
leave the same rows.

The book is deterministic (names, dates, amounts), so the rows are compared by name, not
by id. To record the rows again after a deliberate change of what the close decides:
``UPDATE_CLOSE_SNAPSHOT=1 pytest tests/test_close_outcome.py -k leaves_exactly``, then read
the diff of the JSON file before committing it.
"""

import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import transaction

from incentives.models import LedgerEntry, MdfFund
from partners.models import OutreachTask, Partner, RedFlag, Tier, TierChange, User
from scoring.models import QuarterClose, Scorecard
from scoring.services.close import quarter_close
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
SNAPSHOT = Path(__file__).parent / "data" / "close_outcome.json"


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        yield


def book(manager):
    """Partners that advance, stay, exit, earn rebates and awards, and raise flags."""
    Tier.objects.filter(program__is_default=True, slug="registered").update(revenue_floor=1)
    started = date(2024, 1, 1)
    leaving = PartnerFactory(
        name="Leaving Ltd",
        domain="leaving.example",
        tier=default_tier("registered"),
        started_on=started,
    )
    for quarter in ("2025Q3", "2025Q4", "2026Q1"):
        ScorecardFactory(partner=leaving, quarter=quarter, meets_lowest=False)
    person = PartnerUserFactory(partner=leaving, user__username="lena").user
    CertificationFactory(partner=leaving, user=person, issued_on=date(2026, 1, 1))
    for i in range(6):
        partner = PartnerFactory(
            name=f"Book {i} Ltd",
            domain=f"book{i}.example",
            tier=default_tier("gold" if i % 2 else "silver"),
            started_on=started,
            channel_manager=manager,
        )
        WonDealFactory(
            partner=partner,
            customer_name=f"Customer {i}",
            customer_domain=f"customer{i}.example",
            partner_credit=Decimal(90000 * (i + 1)),
            closed_on=date(2026, 5, 1),
            csat=2 + i % 3,
            csat_recorded_at=datetime(2026, 5, 20, tzinfo=UTC),
        )
        if i != 2:
            CertificationFactory(
                partner=partner,
                user=PartnerUserFactory(partner=partner, user__username=f"rep{i}").user,
                issued_on=date(2025, 1, 1),
            )
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
                    customer_name=f"Prospect {day}",
                    customer_domain=f"prospect{day}.example",
                    submitted_at=datetime(2026, 5, 1 + day, tzinfo=UTC),
                    direct_conflict=day < 2,
                )
    PartnerFactory(  # quiet: no registration
        name="Quiet Ltd", domain="quiet.example", channel_manager=manager, started_on=started
    )
    rocket = PartnerFactory(  # $2.5M in the quarter: platinum at once
        name="Rocket Ltd", domain="rocket.example", channel_manager=manager, started_on=started
    )
    WonDealFactory(
        partner=rocket,
        customer_name="Megacorp",
        customer_domain="megacorp.example",
        partner_credit=Decimal("2500000"),
        closed_on=date(2026, 6, 1),
    )


def _plain(value):
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def outcome() -> dict:
    """Every row the close writes, by name: JSON-ready and sorted."""
    partner = dict(Partner.objects.values_list("pk", "name"))
    tier = dict(Tier.objects.values_list("pk", "slug"))
    user = dict(User.objects.values_list("pk", "username"))

    def rows(queryset, *fields, names=()):
        out = []
        for row in queryset.values_list(*fields):
            row = list(row)
            for index, lookup in names:
                row[index] = lookup.get(row[index])
            out.append(_plain(row))
        return sorted(out, key=json.dumps)

    return {
        "scorecards": rows(
            Scorecard.objects.filter(quarter=QUARTER),
            *("partner_id", "total", "band", "decision", "tier_before_id", "tier_after_id"),
            "inputs",
            names=[(0, partner), (4, tier), (5, tier)],
        ),
        "tier_changes": rows(
            TierChange.objects.filter(quarter=QUARTER),
            *("partner_id", "cause", "from_tier_id", "to_tier_id", "reason"),
            names=[(0, partner), (2, tier), (3, tier)],
        ),
        "partners": rows(
            Partner.objects.all(),
            *("name", "tier_id", "status", "latest_score", "latest_score_quarter"),
            names=[(1, tier)],
        ),
        "red_flags": rows(
            RedFlag.objects.all(), "partner_id", "kind", "status", names=[(0, partner)]
        ),
        "outreach_tasks": rows(
            OutreachTask.objects.all(),
            "partner_id",
            "assignee_id",
            "title",
            names=[(0, partner), (1, user)],
        ),
        "ledger": rows(
            LedgerEntry.objects.all(),
            *("partner_id", "kind", "code", "description", "amount", "status", "due_on"),
            names=[(0, partner)],
        ),
        "ledger_history": rows(
            LedgerEntry.history.all(),
            "partner_id",
            "code",
            "history_type",
            "history_change_reason",
            names=[(0, partner)],
        ),
        "mdf_funds": rows(
            MdfFund.objects.all(),
            "partner_id",
            "fiscal_year",
            "amount",
            "basis",
            names=[(0, partner)],
        ),
        "close": _plain(
            list(
                QuarterClose.objects.values_list(
                    "state",
                    "partners_total",
                    "partners_done",
                    "tier_changes",
                    "flags_opened",
                    "rebates",
                    "awards_proposed",
                ).get()
            )
        ),
    }


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


def test_the_close_leaves_exactly_the_rows_it_left_before(clock, manager):
    book(manager)
    quarter_close(quarter=QUARTER, batch_size=3)  # several batches
    written = outcome()
    if os.environ.get("UPDATE_CLOSE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(written, indent=1, ensure_ascii=False) + "\n")
    assert written == json.loads(SNAPSHOT.read_text())
    # The book exercises what the close writes: a tier move, an exit, a rebate, the flags.
    assert {row[1] for row in written["tier_changes"]} == {"exit", "fast_track"}
    assert any(row[3] == "exit" for row in written["scorecards"])
    assert any(row[1] == "rebate" for row in written["ledger"])
    assert {row[1] for row in written["red_flags"]} >= {
        "cert_lapsed",
        "no_recent_deal",
        "direct_competition",
    }


def test_in_a_callers_transaction_and_on_a_rerun_the_rows_are_the_same(clock, manager):
    book(manager)
    before = list(Partner.objects.values_list("pk", "tier_id", "status"))
    quarter_close(quarter=QUARTER, batch_size=3)
    first = outcome()

    undo(before)
    with transaction.atomic():
        quarter_close(quarter=QUARTER, batch_size=3)
    assert outcome() == first

    quarter_close(quarter=QUARTER, batch_size=3)  # a rerun adds nothing
    again = outcome()
    assert {k: v for k, v in again.items() if k != "close"} == {
        k: v for k, v in first.items() if k != "close"
    }


def test_a_failure_writing_the_money_fails_the_close_and_a_rerun_finishes_it(
    clock, manager, monkeypatch
):
    book(manager)

    def broken(*args, **kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr("scoring.services.close.quarter_incentives_accrue", broken)
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        quarter_close(quarter=QUARTER, batch_size=3)
    close = QuarterClose.objects.get(quarter=QUARTER)
    assert close.state == "failed" and "ledger unavailable" in close.error
    monkeypatch.undo()
    assert quarter_close(quarter=QUARTER).state == "done"


def test_every_tier_move_leaves_a_partner_history_row_with_its_reason(clock, manager):
    book(manager)
    quarter_close(quarter=QUARTER, batch_size=3)
    rocket = Partner.history.filter(name="Rocket Ltd").order_by("-history_id").first()
    assert rocket.tier.slug == "platinum"
    assert rocket.history_change_reason.startswith("Fast-track")
    assert rocket.history_user is None  # the system, not a person
    leaving = Partner.history.filter(name="Leaving Ltd").order_by("-history_id").first()
    assert (leaving.status, leaving.history_change_reason) == (
        "exited",
        "Below the entry tier's requirements at four consecutive closes.",
    )
    rows = Partner.history.count()
    quarter_close(quarter=QUARTER, batch_size=3)  # a rerun moves nobody again
    assert Partner.history.count() == rows
