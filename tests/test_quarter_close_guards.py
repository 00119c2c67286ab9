"""The quarter close's guard rails (RULEBOOK §2): no close of a quarter that ended before
the program's first partner started, on every face; no scorecard, tier move, red flag or
money for a partner in a quarter that did not end after it started."""

import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from incentives.models import LedgerEntry, MdfFund
from partners.models import Partner, RedFlag, TierChange
from scoring import rules, tasks
from scoring.models import QuarterClose, Scorecard
from scoring.services.close import (
    STALE_AFTER,
    CloseInProgress,
    QuarterBeforeFirstPartner,
    quarter_close,
    quarter_close_request,
)
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    RedFlagFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """The refusals are written in the active language (and its date format)."""
    with translation.override("en"):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        yield


def started(partner: Partner, day: date) -> None:
    Partner.objects.filter(pk=partner.pk).update(started_on=day)


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("quarter_end", "first", "refusal"),
    [
        (date(2026, 6, 30), date(2024, 1, 1), None),
        (date(2026, 6, 30), date(2026, 6, 30), None),  # started on its last day
        (date(2026, 6, 30), date(2026, 7, 1), "before_first_partner"),
        (date(2019, 3, 31), date(2024, 1, 1), "before_first_partner"),
        (date(2019, 3, 31), None, None),  # no partner yet: nobody to score either way
        (date(2026, 9, 30), date(2024, 1, 1), "quarter_not_ended"),
        (date(2026, 7, 15), date(2024, 1, 1), "quarter_not_ended"),  # ends today
        (date(2026, 9, 30), date(2027, 1, 1), "quarter_not_ended"),  # not ended goes first
    ],
)
def test_which_quarters_may_be_closed(quarter_end, first, refusal):
    assert (
        rules.close_refusal(
            quarter_end=quarter_end, today=date(2026, 7, 15), first_partner_started=first
        )
        == refusal
    )


# ---------------------------------------------------------------- refused on every face


def test_the_close_refuses_a_quarter_before_the_programs_first_partner(clock):
    PartnerFactory(started_on=date(2024, 2, 10))
    PartnerFactory(status="exited", started_on=date(2023, 5, 2))  # the first, gone since
    PartnerFactory(status="prospect", started_on=date(2020, 1, 1))  # planned: not started

    with pytest.raises(QuarterBeforeFirstPartner) as refused:
        quarter_close(quarter="2023Q1")

    assert refused.value.code == "before_first_partner"
    assert str(refused.value) == (
        "2023Q1 ended on 31 Mar 2023, before the program's first partner started on "
        "2 May 2023: no partner can be scored for it. The first quarter that can be closed "
        "is 2023Q2."
    )
    assert not QuarterClose.objects.exists()
    assert not Scorecard.objects.exists()
    assert quarter_close(quarter="2023Q2").state == "done"


def test_the_api_refuses_it_with_a_400_that_says_why(api, chief, partner_a):
    started(partner_a, date(2025, 3, 3))

    response = api(chief).post("/api/v1/quarters/2024Q4/close/")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "2024Q4 ended on 31 Dec 2024, before the program's first partner started "
        "on 3 Mar 2025: no partner can be scored for it. The first quarter that can be "
        "closed is 2025Q1.",
        "code": "before_first_partner",
    }
    assert not QuarterClose.objects.exists()
    assert api(chief).post("/api/v1/quarters/2025Q1/close/").status_code == 202


def test_the_command_refuses_it_with_the_reason(partner_a):
    started(partner_a, date(2025, 3, 3))
    with pytest.raises(CommandError, match="before the program's first partner started"):
        call_command("close_quarter", "2024q4")
    assert not QuarterClose.objects.exists()


def test_the_scheduled_close_closes_nothing_and_logs_why(caplog):
    partner = PartnerFactory(started_on=date(2026, 7, 1))  # the program's first partner
    with (
        caplog.at_level(logging.WARNING, logger="scoring.tasks"),
        time_machine.travel("2026-07-01 02:00Z", tick=False),
    ):
        result = tasks.close_previous_quarter()

    assert (result["quarter"], result["state"], result["code"]) == (
        "2026Q2",
        "refused",
        "before_first_partner",
    )
    assert "The close of 2026Q2 is refused: 2026Q2 ended on 30 Jun 2026" in caplog.text
    assert not QuarterClose.objects.exists()
    assert not Scorecard.objects.exists()
    assert not TierChange.objects.filter(partner=partner).exclude(cause="initial").exists()


def test_a_queued_close_refused_by_the_time_it_runs_fails_with_the_reason(chief, partner_a):
    started(partner_a, date(2025, 1, 6))
    quarter_close_request(quarter="2025Q2", by=chief)
    started(partner_a, date(2025, 8, 1))  # its start date corrected meanwhile

    result = tasks.close_quarter("2025Q2", chief.pk)

    assert result["state"] == "refused"
    close = QuarterClose.objects.get(quarter="2025Q2")
    assert close.state == "failed"
    assert "before the program's first partner started on 1 Aug 2025" in close.error
    assert not Scorecard.objects.exists()


# ---------------------------------------------------------------- scored only once started


def test_partners_that_had_not_started_by_the_quarters_last_day_get_nothing_from_it(clock):
    veteran = PartnerFactory(tier=default_tier("silver"), started_on=date(2024, 1, 1))
    WonDealFactory(partner=veteran, partner_credit=Decimal("300000"), closed_on=date(2026, 5, 4))
    CertificationFactory(partner=veteran, issued_on=date(2025, 6, 1))
    # An import of their history gives both a quarter that would fast-track them to
    # platinum, pay a rebate, win the awards and raise a low-CSAT flag.
    on_last_day = PartnerFactory(started_on=date(2026, 6, 30))
    after = PartnerFactory(started_on=date(2026, 7, 2))
    newcomers = [on_last_day, after]
    for partner in newcomers:
        for csat in (1, 2, 2):
            WonDealFactory(
                partner=partner,
                partner_credit=Decimal("900000"),
                deal_type="new_logo",
                closed_on=date(2026, 6, 15),
                csat=csat,
                csat_recorded_at=datetime(2026, 6, 20, tzinfo=UTC),
            )
        for _ in range(3):
            CertificationFactory(partner=partner, issued_on=date(2026, 1, 5))
    raised_before = RedFlagFactory(partner=after, kind="no_recent_deal")

    close = quarter_close(quarter="2026Q2")

    assert (close.state, close.partners_total, close.partners_done) == ("done", 1, 1)
    assert list(Scorecard.objects.values_list("partner_id", flat=True)) == [veteran.pk]
    newcomer_ids = {p.pk for p in newcomers}
    assert not TierChange.objects.filter(partner__in=newcomer_ids, quarter="2026Q2").exists()
    for partner in newcomers:
        partner.refresh_from_db()
        assert (partner.tier.slug, partner.status, partner.latest_score) == (
            "registered",
            "active",
            None,
        )
    assert (
        not RedFlag.objects.filter(partner__in=newcomer_ids).exclude(pk=raised_before.pk).exists()
    )
    raised_before.refresh_from_db()
    assert raised_before.status == "open"  # neither raised nor resolved by this close
    assert {e.partner_id for e in LedgerEntry.objects.all()} == {veteran.pk}
    assert LedgerEntry.objects.filter(kind="rebate").count() == 1
    assert list(MdfFund.objects.values_list("partner_id", flat=True)) == [veteran.pk]

    again = quarter_close(quarter="2026Q2")
    assert again.partners_total == 1
    assert list(Scorecard.objects.values_list("partner_id", flat=True)) == [veteran.pk]


def test_the_next_close_scores_a_partner_that_started_on_the_last_day(clock):
    partner = PartnerFactory(started_on=date(2026, 3, 31))
    assert quarter_close(quarter="2026Q1").partners_total == 0
    assert quarter_close(quarter="2026Q2").partners_total == 1
    assert list(Scorecard.objects.values_list("partner_id", "quarter")) == [(partner.pk, "2026Q2")]


def test_a_scorecard_of_a_quarter_before_the_partner_started_counts_as_no_earlier_close(clock):
    """Gold with no revenue and no certified rep: below its tier at every close. Written by
    a close that ran before the rule held, a scorecard of 2025Q4, when the partner had not
    started, must not make 2026Q1 its second close below."""
    partner = PartnerFactory(tier=default_tier("gold"), started_on=date(2026, 1, 12))
    ScorecardFactory(
        partner=partner,
        quarter="2025Q4",
        qualified_tier=default_tier("registered"),
        meets_lowest=False,
    )

    quarter_close(quarter="2026Q1")
    partner.refresh_from_db()
    assert partner.tier.slug == "gold"
    assert not TierChange.objects.filter(partner=partner, quarter="2026Q1").exists()

    quarter_close(quarter="2026Q2")
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"
    assert TierChange.objects.get(partner=partner, quarter="2026Q2").cause == "demote"


def test_a_close_whose_run_is_alive_is_not_run_twice_and_a_stopped_one_is_taken_over(partner_a):
    """The claim is the close's row and its heartbeat (no session lock, so it holds behind
    a pooler in transaction mode): a second run while the first is alive is refused, and
    a run killed half-way (heartbeat stale) is taken over."""
    started = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    QuarterClose.objects.create(
        quarter="2026Q2",
        state=QuarterClose.State.RUNNING,
        started_at=started,
        heartbeat_at=started,
        runs=1,
    )
    with time_machine.travel(started + STALE_AFTER / 2, tick=False):
        with pytest.raises(CloseInProgress, match="already running"):
            quarter_close(quarter="2026Q2")
        assert tasks._run_close("2026Q2", None)["state"] == "running elsewhere"
    assert QuarterClose.objects.get(quarter="2026Q2").state == "running"
    assert not Scorecard.objects.exists()

    with time_machine.travel(started + STALE_AFTER, tick=False):
        close = quarter_close(quarter="2026Q2")
    assert close.state == "done" and close.runs == 2
    assert Scorecard.objects.filter(partner=partner_a, quarter="2026Q2").exists()


def test_a_finished_close_can_be_run_again_at_once(partner_a):
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q2")
        again = quarter_close(quarter="2026Q2")
    assert again.state == "done" and again.runs == 2
