"""The quarter close against RULEBOOK §2, §3 and §8: inputs, reruns, tier moves, flags."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enablement.models import EventAttendance, LoginDay, TrainingCompletion
from partners.models import OutreachTask, Partner, RedFlag, Tier, TierChange
from partners.services import lead_create
from scoring.models import QuarterClose, Scorecard
from scoring.services.close import QuarterNotEnded, quarter_close, red_flags_refresh
from tests.factories import (
    AccountFactory,
    CertificationFactory,
    DealFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

AFTER_Q2 = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
IN_Q2 = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(AFTER_Q2, tick=False) as traveller:
        yield traveller


def in_q2(**days):
    return IN_Q2 + timedelta(**days)


@pytest.fixture
def silver(clock):
    partner = PartnerFactory(
        tier=default_tier("silver"), annual_quota=Decimal("200000"), started_on=date(2024, 1, 1)
    )
    people = [PartnerUserFactory(partner=partner).user for _ in range(2)]
    return partner, people


def test_scorecard_inputs_and_points_are_exact(silver):
    partner, (ann, bob) = silver
    WonDealFactory(partner=partner, partner_credit=Decimal("25000"), closed_on=date(2026, 5, 10))
    WonDealFactory(partner=partner, partner_credit=Decimal("99999"), closed_on=date(2026, 3, 31))
    for status in ("won", "approved", "expired"):
        DealFactory(
            partner=partner,
            status=status,
            submitted_at=in_q2(),
            approved_at=in_q2(hours=5),
            expires_on=date(2026, 8, 8),
            closed_on=date(2026, 5, 20) if status == "won" else None,
            partner_credit=Decimal("0") if status == "won" else None,
        )
    DealFactory(partner=partner, status="rejected", submitted_at=in_q2())  # never approved
    DealFactory(
        partner=partner,
        status="approved",
        submitted_at=datetime(2026, 3, 30, tzinfo=UTC),
        approved_at=datetime(2026, 4, 1, tzinfo=UTC),
        expires_on=date(2026, 6, 28),
    )  # approved in Q2 but submitted in Q1: not this quarter's pipeline
    CertificationFactory(partner=partner, user=ann, issued_on=date(2026, 1, 1))
    CertificationFactory(
        partner=partner, user=bob, issued_on=date(2024, 6, 30), expires_on=date(2026, 6, 30)
    )  # expires on the last day: not current then
    for csat, when in ((4, in_q2()), (5, in_q2(days=10)), (1, datetime(2026, 7, 2, tzinfo=UTC))):
        WonDealFactory(
            partner=partner,
            partner_credit=Decimal("0"),
            csat=csat,
            csat_recorded_at=when,
            closed_on=date(2026, 2, 1),
        )
    for day in range(1, 7):
        LoginDay.objects.create(user=ann, partner=partner, day=date(2026, 4, day))
    LoginDay.objects.create(user=bob, partner=partner, day=date(2026, 4, 1))  # same day
    TrainingCompletion.objects.create(
        user=ann, partner=partner, course="Deep dive", completed_on=date(2026, 6, 1)
    )
    EventAttendance.objects.create(
        user=bob, partner=partner, event="Summit", attended_on=date(2026, 6, 30)
    )

    close = quarter_close(quarter="2026Q2")

    assert (close.state, close.partners_total, close.partners_done) == ("done", 1, 1)
    card = Scorecard.objects.get(partner=partner, quarter="2026Q2")
    assert card.inputs["quarter_revenue"] == "25000.00"
    assert card.inputs["approved_registrations"] == 3
    assert (card.inputs["certified_reps"], card.inputs["reps_required"]) == (1, 1)
    assert (card.inputs["csat_responses"], card.inputs["csat_average"]) == (2, "4.50")
    assert (card.inputs["login_days"], card.inputs["trainings"], card.inputs["events"]) == (6, 1, 1)
    assert (card.revenue, card.pipeline, card.certification) == (
        Decimal("15.00"),
        Decimal("12.00"),
        Decimal("15.00"),
    )
    assert (card.satisfaction, card.engagement) == (Decimal("18.00"), Decimal("9.17"))
    assert card.total == Decimal("69.17")
    assert card.band == "grow"
    partner.refresh_from_db()
    assert (partner.latest_score, partner.latest_score_quarter) == (Decimal("69.17"), "2026Q2")


def test_no_csat_is_marked_no_data_and_zero_quota_scores_no_revenue(clock):
    partner = PartnerFactory(annual_quota=Decimal("0"))
    WonDealFactory(partner=partner, partner_credit=Decimal("5000"), closed_on=date(2026, 5, 1))
    quarter_close(quarter="2026Q2")
    card = Scorecard.objects.get(partner=partner)
    assert card.csat_no_data
    assert (card.satisfaction, card.revenue) == (Decimal("0.00"), Decimal("0.00"))
    assert card.certification == Decimal("15.00")  # registered tier: 0 reps required


def test_a_quarter_not_yet_ended_is_refused(clock):
    with pytest.raises(QuarterNotEnded):
        quarter_close(quarter="2026Q3")
    assert not QuarterClose.objects.exists()


def test_only_active_partners_are_scored(clock):
    PartnerFactory(status="suspended")
    PartnerFactory(status="onboarding")
    active = PartnerFactory()
    quarter_close(quarter="2026Q2")
    assert list(Scorecard.objects.values_list("partner_id", flat=True)) == [active.pk]


def _snapshot():
    cards = sorted(
        Scorecard.objects.values_list(
            "partner_id", "quarter", "total", "band", "decision", "tier_before_id", "tier_after_id"
        )
    )
    changes = sorted(
        TierChange.objects.exclude(cause="initial").values_list(
            "partner_id", "quarter", "cause", "from_tier_id", "to_tier_id"
        )
    )
    tiers = sorted(Partner.objects.values_list("pk", "tier_id", "status"))
    return cards, changes, tiers


def gold_qualified(partner):
    """Trailing revenue and certified reps enough for gold (not platinum)."""
    WonDealFactory(partner=partner, partner_credit=Decimal("210000"), closed_on=date(2026, 1, 15))
    for _ in range(2):
        CertificationFactory(partner=partner, issued_on=date(2025, 6, 1))


def test_advance_needs_two_consecutive_closes_and_reruns_change_nothing(silver, clock):
    partner, _ = silver
    gold_qualified(partner)
    quarter_close(quarter="2026Q1")
    first = Scorecard.objects.get(partner=partner, quarter="2026Q1")
    assert (first.qualified_tier.slug, first.decision) == ("gold", "stay")
    quarter_close(quarter="2026Q2")
    partner.refresh_from_db()
    assert partner.tier.slug == "gold"
    change = TierChange.objects.get(partner=partner, quarter="2026Q2")
    assert (change.cause, change.from_tier.slug, change.to_tier.slug) == (
        "advance",
        "silver",
        "gold",
    )

    before = _snapshot()
    again = quarter_close(quarter="2026Q2")
    assert again.runs == 2
    assert _snapshot() == before
    assert TierChange.objects.filter(partner=partner, quarter="2026Q2").count() == 1


def test_fast_track_after_one_close_with_a_score_of_80(silver, clock):
    partner, (ann, bob) = silver
    gold_qualified(partner)
    WonDealFactory(partner=partner, partner_credit=Decimal("60000"), closed_on=date(2026, 5, 2))
    for i in range(5):
        DealFactory(
            partner=partner,
            status="approved",
            submitted_at=in_q2(days=i),
            approved_at=in_q2(days=i, hours=1),
            expires_on=date(2026, 8, 30),
        )
    WonDealFactory(
        partner=partner,
        partner_credit=Decimal("0"),
        csat=5,
        csat_recorded_at=in_q2(),
        closed_on=date(2026, 5, 2),
    )
    for day in range(1, 13):
        LoginDay.objects.create(user=ann, partner=partner, day=date(2026, 5, day))
    quarter_close(quarter="2026Q2")
    card = Scorecard.objects.get(partner=partner)
    assert card.total >= 80
    assert card.decision == "fast_track"
    partner.refresh_from_db()
    assert partner.tier.slug == "gold"


def test_quarter_revenue_of_2_5_million_goes_to_platinum_at_once(silver, clock):
    partner, _ = silver
    WonDealFactory(partner=partner, partner_credit=Decimal("2500000"), closed_on=date(2026, 6, 1))
    quarter_close(quarter="2026Q2")
    partner.refresh_from_db()
    assert partner.tier.slug == "platinum"
    assert TierChange.objects.get(partner=partner, quarter="2026Q2").cause == "fast_track"


def test_demote_after_two_closes_below(clock):
    partner = PartnerFactory(tier=default_tier("gold"))  # no revenue, no certified reps
    quarter_close(quarter="2026Q1")
    partner.refresh_from_db()
    assert partner.tier.slug == "gold"
    quarter_close(quarter="2026Q2")
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"
    assert TierChange.objects.get(partner=partner, quarter="2026Q2").cause == "demote"


def test_query_count_does_not_grow_with_partners(clock):
    def populate(count):
        tier = default_tier("silver")
        partners = Partner.objects.bulk_create(
            Partner(
                program=tier.program,
                tier=tier,
                name=f"Bulk {count}-{i}",
                domain=f"bulk{count}-{i}.example",
                domain_key=f"bulk{count}-{i}.example",
                status="active",
                started_on=date(2024, 1, 1),
                agreement_signed_on=date(2024, 1, 1),
            )
            for i in range(count)
        )
        for partner in partners[:5]:
            WonDealFactory(partner=partner, closed_on=date(2026, 5, 5))
            CertificationFactory(partner=partner)
            for month in (2, 5):  # an accepted lead in each quarter closed
                lead_create(
                    company_name=f"Lead {partner.pk}-{month}",
                    partner=partner,
                    created_at=datetime(2026, month, 3, tzinfo=UTC),
                )

    def queries(label):
        with CaptureQueriesContext(connection) as captured:
            quarter_close(quarter=label)
        return len(captured.captured_queries)

    populate(10)
    small = queries("2026Q1")
    populate(290)
    large = queries("2026Q2")
    assert Scorecard.objects.filter(quarter="2026Q2").count() == 300
    # The second close also moves tiers and grows MDF funds, which the first has none of:
    # a few statements for each kind of write a close needs at all (skipped when a batch
    # has none of it), never one a partner.
    assert large <= small + 12, (small, large)


def test_red_flags_open_once_resolve_themselves_and_notify(
    clock, manager, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    quiet = PartnerFactory(channel_manager=manager, started_on=date(2025, 1, 1))
    busy = PartnerFactory(channel_manager=manager, started_on=date(2025, 1, 1))
    DealFactory(partner=busy, submitted_at=datetime(2026, 6, 20, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        result = red_flags_refresh(as_of=date(2026, 7, 1))
        red_flags_refresh(as_of=date(2026, 7, 1))
    queued_mail()
    assert result["opened"] == 1
    flag = RedFlag.objects.get(partner=quiet, kind="no_recent_deal", status="open")
    task = OutreachTask.objects.get(red_flag=flag)
    assert task.assignee == manager
    assert not RedFlag.objects.filter(partner=busy).exists()
    assert len([m for m in mailoutbox if manager.email in m.to]) == 1
    DealFactory(partner=quiet, submitted_at=datetime(2026, 7, 1, 8, tzinfo=UTC))
    red_flags_refresh(as_of=date(2026, 7, 1))
    flag.refresh_from_db()
    assert flag.status == "resolved"


def test_cert_lapsed_flag_blocks_registration_until_recertified(clock):
    from deals.services import DealError, deal_register

    partner = PartnerFactory(tier=default_tier("silver"))
    person = PartnerUserFactory(partner=partner).user
    CertificationFactory(
        partner=partner, user=person, issued_on=date(2024, 1, 1), expires_on=date(2026, 7, 1)
    )
    red_flags_refresh(as_of=date(2026, 7, 15))
    assert RedFlag.objects.filter(partner=partner, kind="cert_lapsed", status="open").exists()
    with pytest.raises(DealError) as refused:
        deal_register(
            partner=partner,
            submitted_by=person,
            customer_name="Blocked",
            customer_domain="blocked.example",
            amount="1000",
            expected_close=date(2026, 9, 1),
            deal_type="new_logo",
            compensation_model="reseller",
        )
    assert refused.value.code == "cert_lapsed"
    CertificationFactory(partner=partner, user=person, issued_on=date(2026, 7, 10))
    red_flags_refresh(as_of=date(2026, 7, 15))
    assert not RedFlag.objects.filter(partner=partner, kind="cert_lapsed", status="open").exists()


@pytest.mark.parametrize(
    ("answers", "flagged"), [((3, 3, 4), True), ((4, 3, 4), False), ((1, 1), False)]
)
def test_low_csat_needs_three_answers_averaging_below_3_5(clock, answers, flagged):
    partner = PartnerFactory()
    for answer in answers:
        WonDealFactory(
            partner=partner, csat=answer, csat_recorded_at=in_q2(), closed_on=date(2026, 5, 1)
        )
    red_flags_refresh(as_of=date(2026, 7, 1))
    assert RedFlag.objects.filter(partner=partner, kind="low_csat").exists() is flagged


def test_direct_competition_over_20_percent_of_five_or_more(clock):
    partner = PartnerFactory()
    for i in range(5):
        DealFactory(partner=partner, submitted_at=in_q2(days=i), direct_conflict=i < 2)
    red_flags_refresh(as_of=date(2026, 7, 1))
    assert RedFlag.objects.filter(partner=partner, kind="direct_competition").exists()


def test_a_win_with_two_products_counts_once_as_a_new_logo(clock):
    from partners.models import Tier
    from scoring.queries import partner_facts
    from tests.factories import ProductFactory

    Tier.objects.filter(slug="platinum", program__is_default=True).update(strategic_wins_required=1)
    partner = PartnerFactory()
    strategic = ProductFactory(slug="secure", strategic=True)
    plain = ProductFactory(slug="core")
    deal = WonDealFactory(partner=partner, deal_type="new_logo", closed_on=date(2026, 5, 1))
    deal.products.add(strategic, plain)
    WonDealFactory(partner=partner, deal_type="upsell", closed_on=date(2026, 5, 1)).products.add(
        plain
    )
    facts = partner_facts([partner.pk], date(2026, 6, 30))[partner.pk]
    assert (facts.new_logos, facts.strategic_wins) == (1, 1)


def _open_flags_and_tasks():
    flags = set(RedFlag.objects.filter(status="open").values_list("partner_id", "kind"))
    tasks = set(
        OutreachTask.objects.filter(red_flag__status="open").values_list(
            "partner_id", "assignee_id", "title", "red_flag__kind"
        )
    )
    return flags, tasks


def test_the_close_raises_the_flags_the_daily_refresh_raises_on_the_quarters_last_day(
    clock, manager, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    """The close reuses the deal figures and certified reps it gathered for the scores;
    the flags must be those a refresh as of the quarter's last day would raise."""
    started = date(2025, 1, 1)
    quiet = PartnerFactory(channel_manager=manager, started_on=started)  # no registration
    lapsed = PartnerFactory(tier=default_tier("silver"), started_on=started)
    person = PartnerUserFactory(partner=lapsed).user
    CertificationFactory(
        partner=lapsed, user=person, issued_on=date(2024, 1, 1), expires_on=date(2026, 6, 1)
    )
    unhappy = PartnerFactory(channel_manager=manager, started_on=started)
    for answer in (2, 3, 4):
        WonDealFactory(
            partner=unhappy, csat=answer, csat_recorded_at=in_q2(), closed_on=date(2026, 5, 1)
        )
    competing = PartnerFactory(started_on=started)
    for i in range(5):
        DealFactory(partner=competing, submitted_at=in_q2(days=i), direct_conflict=i < 2)
    resolved = PartnerFactory(started_on=started)  # flagged earlier, registering again now
    DealFactory(partner=resolved, submitted_at=in_q2(days=40))
    red_flags_refresh(as_of=date(2026, 3, 31))
    assert RedFlag.objects.filter(partner=resolved, status="open").exists()
    open_before = _open_flags_and_tasks()[0]

    with django_capture_on_commit_callbacks(execute=True):
        close = quarter_close(quarter="2026Q2")
    queued_mail()
    from_close = _open_flags_and_tasks()
    raised = from_close[0]
    assert {
        (quiet.pk, "no_recent_deal"),
        (lapsed.pk, "cert_lapsed"),
        (unhappy.pk, "low_csat"),
        (competing.pk, "direct_competition"),
    } <= raised
    assert not any(pid == resolved.pk for pid, _ in raised)
    assert close.flags_opened == len(raised - open_before)
    assert OutreachTask.objects.filter(partner=quiet, assignee=manager).exists()
    assert any(f"{unhappy.name}: Low customer satisfaction" in m.body for m in mailoutbox)

    RedFlag.objects.all().delete()
    OutreachTask.objects.all().delete()
    red_flags_refresh(as_of=date(2026, 6, 30))
    assert _open_flags_and_tasks() == from_close
    assert red_flags_refresh(as_of=date(2026, 6, 30)) == {"opened": 0, "resolved": 0}


def test_a_partner_exiting_at_the_close_no_longer_vouches_for_its_peoples_certifications(clock):
    """A lapsed certification counts when its holder has no current one at an active
    partner: after the close, the partner that exits no longer counts, and the close's
    flags are those of a refresh right after it."""
    Tier.objects.filter(program__is_default=True, slug="registered").update(revenue_floor=1)
    leaving = PartnerFactory(tier=default_tier("registered"), started_on=date(2024, 1, 1))
    for quarter in ("2025Q3", "2025Q4", "2026Q1"):
        ScorecardFactory(partner=leaving, quarter=quarter, meets_lowest=False)
    person = PartnerUserFactory(partner=leaving).user
    CertificationFactory(partner=leaving, user=person, issued_on=date(2026, 1, 1))
    staying = PartnerFactory(tier=default_tier("silver"), started_on=date(2024, 1, 1))
    ScorecardFactory(partner=staying, quarter="2026Q1")  # qualified silver then: no demotion
    WonDealFactory(partner=staying, partner_credit=Decimal("60000"), closed_on=date(2026, 5, 1))
    CertificationFactory(  # earned at the partner the person has since left
        partner=staying, user=person, issued_on=date(2024, 1, 1), expires_on=date(2026, 3, 1)
    )

    quarter_close(quarter="2026Q2")

    leaving.refresh_from_db()
    assert leaving.status == "exited"
    from_close = _open_flags_and_tasks()
    assert (staying.pk, "cert_lapsed") in from_close[0]
    assert not any(pid == leaving.pk for pid, _ in from_close[0])
    RedFlag.objects.all().delete()
    OutreachTask.objects.all().delete()
    red_flags_refresh(as_of=date(2026, 6, 30))
    assert _open_flags_and_tasks() == from_close


def test_accepted_leads_count_as_pipeline_once(silver):
    """RULEBOOK §11: a lead the partner accepted in the quarter counts towards n, unless
    its registration is already one of the quarter's approved registrations."""
    from partners.services import leads as lead_services

    partner, (ann, _) = silver

    def lead(name, at, **fields):
        AccountFactory(name=name, domain=f"{name.lower()}.example")
        return lead_create(
            company_name=name, domain=f"{name.lower()}.example", created_at=at, **fields
        )

    def converted(name, **deal):
        held = lead(name, in_q2(), partner=partner)
        registration = DealFactory(
            partner=partner, account=held.account, submitted_at=in_q2(days=1), **deal
        )
        lead_services.lead_convert(
            partner_id=partner.pk, account=held.account, deal_id=registration.pk, at=in_q2(days=1)
        )

    lead("Open", in_q2(), partner=partner)
    closing = lead("Closed", in_q2(), partner=partner)
    lead_services.lead_close(lead=closing, partner=partner, by=ann, reason="no_budget")
    converted("Counted", status="approved", approved_at=in_q2(days=2), expires_on=date(2026, 9, 1))
    converted("Pending", status="pending")  # not approved: the lead counts instead
    lead("Earlier", datetime(2026, 3, 20, tzinfo=UTC), partner=partner)  # accepted in Q1
    lead("Unheld", in_q2())  # nobody's
    other = PartnerFactory(started_on=date(2024, 1, 1))
    lead("Theirs", in_q2(), partner=other)

    quarter_close(quarter="2026Q2")

    card = Scorecard.objects.get(partner=partner, quarter="2026Q2")
    assert (card.inputs["approved_registrations"], card.inputs["accepted_leads"]) == (1, 3)
    assert card.pipeline == Decimal("16.00")  # 20 × 4 / 5
    theirs = Scorecard.objects.get(partner=other, quarter="2026Q2")
    assert theirs.inputs["accepted_leads"] == 1
