"""Program versions (RULEBOOK §12): the close decides under its quarter's version and names
it; every stored decision replays from its inputs and version; a draft is tried on the
last closed quarter without writing anything, and published for a quarter still to close.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from deals.services import deal_accrue_incentives
from incentives.models import LedgerEntry
from incentives.services.contributions import contribution_decide, contribution_submit
from incentives.services.ledger import deal_incentive_table
from partners.models import Program, ProgramVersion, Tier, TierChange, User
from partners.services.versions import (
    version_copy_to_draft,
    version_publish,
    version_update_draft,
)
from scoring.models import Scorecard
from scoring.services.close import quarter_close
from scoring.services.versions import (
    _wins_earning,
    replay_differences,
    replay_money_differences,
    replay_scorecard,
    replay_win_differences,
    what_if,
)
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        yield


def _program() -> Program:
    return Program.objects.get(is_default=True)


def _book():
    """Two silver partners: one with $150,000 of trailing revenue, one with $60,000."""
    near = PartnerFactory(
        name="Near Gold", tier=default_tier("silver"), started_on=date(2024, 1, 1)
    )
    far = PartnerFactory(name="Far Below", tier=default_tier("silver"), started_on=date(2024, 1, 1))
    for partner, amount in ((near, "150000"), (far, "60000")):
        CertificationFactory(
            partner=partner,
            user=PartnerUserFactory(partner=partner).user,
            issued_on=date(2025, 1, 1),
        )
        CertificationFactory(
            partner=partner,
            user=PartnerUserFactory(partner=partner).user,
            issued_on=date(2025, 1, 1),
        )
        deal_accrue_incentives(  # the win earns its SPIFFs as every win does
            WonDealFactory(
                partner=partner, partner_credit=Decimal(amount), closed_on=date(2026, 5, 1)
            )
        )
        ScorecardFactory(partner=partner, quarter="2026Q1", qualified_tier=default_tier("gold"))
    return near, far


def _counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def test_the_close_decides_under_its_version_and_names_it(clock):
    near, _ = _book()
    close = quarter_close(quarter="2026Q2")
    assert close.state == "done"
    version = ProgramVersion.objects.get(program=_program())
    assert (version.number, version.status, version.last_used_quarter) == (1, "published", "2026Q2")
    cards = Scorecard.objects.filter(quarter="2026Q2")
    assert cards.count() == 2
    assert set(cards.values_list("version_id", flat=True)) == {version.pk}
    assert set(
        TierChange.objects.filter(quarter="2026Q2").values_list("version_id", flat=True)
    ) <= {version.pk}
    rebates = LedgerEntry.objects.filter(quarter="2026Q2", kind__in=("rebate", "award"))
    assert rebates.exists()
    assert set(rebates.values_list("version_id", flat=True)) == {version.pk}
    assert replay_differences(cards.select_related("version")) == []


def test_a_live_edit_after_a_close_makes_a_new_version_and_the_rerun_keeps_the_old(clock):
    near, _ = _book()
    quarter_close(quarter="2026Q1")
    first = ProgramVersion.objects.get(program=_program())
    Tier.objects.filter(program=_program(), slug="gold").update(revenue_floor=Decimal("100000"))
    quarter_close(quarter="2026Q2")
    second = ProgramVersion.objects.exclude(pk=first.pk).get(program=_program())
    assert (second.number, second.effective_from, second.origin) == (2, "2026Q2", "live")
    gold = str(Tier.objects.get(program=_program(), slug="gold").pk)
    assert Decimal(second.rules["tiers"][gold]["revenue_floor"]) == Decimal("100000")
    assert Decimal(first.rules["tiers"][gold]["revenue_floor"]) == Decimal("200000.00")
    card = Scorecard.objects.get(partner=near, quarter="2026Q2")
    assert card.version_id == second.pk
    assert card.qualified_tier.slug == "gold"  # under the new floor
    # Closing 2026Q1 again decides under the version it was closed under.
    quarter_close(quarter="2026Q1")
    assert Scorecard.objects.get(partner=near, quarter="2026Q1").version_id == first.pk
    assert (
        replay_differences(Scorecard.objects.select_related("version").exclude(version=None)) == []
    )


def test_a_draft_tried_on_the_last_close_writes_nothing_and_shows_the_movers(clock, chief):
    near, far = _book()
    quarter_close(quarter="2026Q2")
    draft = version_copy_to_draft(program=_program(), by=chief)
    assert draft.status == "draft"

    unchanged = what_if(draft, by=chief)
    assert unchanged.quarter == "2026Q2"
    assert len(unchanged.rows) == 2
    assert unchanged.movers == 0 and unchanged.band_changes == 0
    assert unchanged.total("payout_difference") == 0
    assert unchanged.total("payout_actual") > 0

    rules = draft.rules
    gold = str(Tier.objects.get(program=_program(), slug="gold").pk)
    rules["tiers"][gold]["revenue_floor"] = "120000"
    rules["scoring"]["revenue_points"] = "10"
    version_update_draft(version=draft, rules=rules, by=chief)
    before = _counts()
    tried = what_if(draft, by=chief)
    assert _counts() == before  # not a row written
    assert tried.movers == 1
    mover = tried.rows[0]  # movers first
    assert (mover.partner, mover.tier_actual, mover.tier_draft) == ("Near Gold", "Silver", "Gold")
    assert all(row.total_draft < row.total_actual for row in tried.rows)
    assert tried.total("payout_difference") == sum(r.payout_difference for r in tried.rows)


def test_what_if_reads_a_fixed_number_of_queries(clock, chief, django_assert_max_num_queries):
    _book()
    for number in range(6):
        PartnerFactory(name=f"More {number}", tier=default_tier("registered"))
    quarter_close(quarter="2026Q2")
    draft = version_copy_to_draft(program=_program(), by=chief)
    draft = ProgramVersion.objects.select_related("program").get(pk=draft.pk)
    # The scorecards, the closed quarter, the wins' facts, and the entries paid.
    with django_assert_max_num_queries(4):
        assert len(what_if(draft).rows) == 8


def test_only_a_chief_or_an_admin_changes_versions(clock, manager, chief):
    _book()
    quarter_close(quarter="2026Q2")
    with pytest.raises(PermissionDenied):
        version_copy_to_draft(program=_program(), by=manager)
    draft = version_copy_to_draft(program=_program(), by=chief)
    with pytest.raises(PermissionDenied):
        what_if(draft, by=manager)
    with pytest.raises(PermissionDenied):
        version_update_draft(version=draft, rules=draft.rules, by=manager)
    with pytest.raises(PermissionDenied):
        version_publish(version=draft, effective_from="2027Q1", by=manager)


@pytest.mark.parametrize(
    "section,name,value,code",
    [
        ("scoring", "revenue_points", "abc", "not_number"),
        ("scoring", "revenue_points", "-1", "out_of_range"),
        ("scoring", "pipeline_target", "2.5", "not_whole"),
        ("scoring", "revenue_points", "80", "points_over_100"),
        ("scoring", "band_grow_from", "90", "bands_out_of_order"),
        ("incentives", "bonus_upsell_rate", "1.5", "rate_over_1"),
        ("incentives", "spiff_new_logo_days", "2.5", "not_whole"),
        ("incentives", "spiff_first_deal", "-5", "out_of_range"),
    ],
)
def test_a_draft_refuses_numbers_that_do_not_fit(clock, chief, section, name, value, code):
    draft = version_copy_to_draft(program=_program(), by=chief)
    rules = draft.rules
    rules[section][name] = value
    with pytest.raises(ValidationError) as caught:
        version_update_draft(version=draft, rules=rules, by=chief)
    assert caught.value.code == code
    draft.refresh_from_db()
    assert draft.rules == version_copy_to_draft(program=_program(), by=chief).rules


def test_a_published_draft_decides_from_its_quarter_and_becomes_the_live_program(clock, chief):
    near, _ = _book()
    quarter_close(quarter="2026Q2")
    draft = version_copy_to_draft(program=_program(), by=chief)
    rules = draft.rules
    gold = Tier.objects.get(program=_program(), slug="gold")
    rules["tiers"][str(gold.pk)]["revenue_floor"] = "120000"
    version_update_draft(version=draft, rules=rules, by=chief)
    for closed in ("2026Q2", "2026Q1", "2025Q4"):
        with pytest.raises(ValidationError) as caught:
            version_publish(version=draft, effective_from=closed, by=chief)
        assert caught.value.code == "quarter_closed"
    with pytest.raises(ValidationError):
        version_publish(version=draft, effective_from="next year", by=chief)
    version_publish(version=draft, effective_from="2026Q3", by=chief)
    draft.refresh_from_db()
    assert (draft.status, draft.effective_from, draft.published_by) == (
        "published",
        "2026Q3",
        chief,
    )
    with pytest.raises(ValidationError) as caught:
        version_update_draft(version=draft, rules=rules, by=chief)
    assert caught.value.code == "not_draft"
    gold.refresh_from_db()
    assert gold.revenue_floor == Decimal("200000")  # live until its quarter is closed
    with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q3")
    assert Scorecard.objects.get(partner=near, quarter="2026Q3").version_id == draft.pk
    gold.refresh_from_db()
    assert gold.revenue_floor == Decimal("120000")


def test_every_decision_of_the_demo_replays_from_its_inputs_and_version(db, tmp_path, settings):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", partners=20, seed=7)
    cards = list(Scorecard.objects.select_related("version", "partner"))
    assert len(cards) > 20
    assert all(card.version_id for card in cards)
    assert replay_differences(cards) == []
    for card in cards[:3]:
        assert replay_scorecard(card).total == card.total
    # Each tier change a close made is its scorecard's decision.
    by_card = {(c.partner_id, c.quarter): c for c in cards}
    changes = TierChange.objects.exclude(quarter="").exclude(cause__in=("override", "initial"))
    assert changes.exists()
    for change in changes:
        card = by_card[change.partner_id, change.quarter]
        again = replay_scorecard(card)
        assert change.version_id == card.version_id
        assert (change.cause, change.from_tier_id, change.to_tier_id) == (
            again.decision,
            card.tier_before_id,
            again.tier_after_id,
        )
    # The close's rebates and award proposals are what the stored inputs give.
    assert LedgerEntry.objects.filter(kind="rebate").exists()
    assert replay_money_differences(cards) == []
    # Every SPIFF and bonus a win earned names its version and is what the deal earns by it.
    wins = LedgerEntry.objects.filter(kind__in=("spiff", "bonus"), source_id__isnull=False)
    wins = list(wins.exclude(code__in=("bonus_reference", "bonus_community")))
    assert len(wins) > 20
    assert all(entry.version_id for entry in wins)
    assert replay_win_differences(wins) == []
    # Every entry names the version in force when it was decided: commissions and MDF
    # reimbursements too.
    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert {"commission", "mdf", "spiff", "rebate", "award", "bonus"} <= kinds
    assert not LedgerEntry.objects.filter(version=None).exists()
    # A draft that keeps the SPIFFs is read from the ledger, not figured again: it gives what
    # figuring the quarter's wins again gives.
    program = Program.objects.get(is_default=True)
    chief = User.objects.filter(role="channel_chief").first()
    draft = version_copy_to_draft(program=program, by=chief)
    tried = what_if(draft)
    assert tried.total("incentives_actual") > 0 and tried.total("payout_difference") == 0
    kept, voided = defaultdict(Decimal), set()
    for pid, deal, code, amount, status in (
        LedgerEntry.objects.filter(quarter=tried.quarter, kind__in=("spiff", "bonus"))
        .exclude(code__in=("bonus_reference", "bonus_community"))
        .values_list("partner_id", "source_id", "code", "amount", "status")
    ):
        if status == "void":  # lapsed unclaimed: it would have lapsed under the draft too
            voided.add((deal, code))
        else:
            kept[pid] += amount
    table = deal_incentive_table(draft.rules["incentives"])
    again = _wins_earning(program, tried.quarter, table, voided)
    assert voided and kept
    assert {pid: again[pid] for pid in again if again[pid]} == dict(kept)


def test_a_scorecard_is_explained_with_the_weights_of_its_version(clock, client):
    near, _ = _book()
    quarter_close(quarter="2026Q2")
    # The live program changes its weights after the close: the scorecard keeps its own.
    Program.objects.filter(pk=_program().pk).update(pipeline_points=25, revenue_points=25)
    person = PartnerUserFactory(partner=near).user
    client.force_login(person)
    page = client.get("/portal/scorecards/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Decided under program version 1, in force from" in text
    shown = {part["dimension"]: part for part in page.context["rows"][0]["explanation"]}
    assert str(shown["pipeline"]["max_points"]) == "20"
    assert str(shown["revenue"]["max_points"]) == "30"


def _first_win(name: str, closed_on: date) -> list[LedgerEntry]:
    """A new partner's first win: it earns the first-deal SPIFF, and what the entries say."""
    partner = PartnerFactory(name=name, tier=default_tier("registered"))
    deal = WonDealFactory(partner=partner, partner_credit=Decimal("5000"), closed_on=closed_on)
    deal_accrue_incentives(deal)
    return list(LedgerEntry.objects.filter(partner=partner, code="spiff_first_deal"))


def _spiff(entries: list[LedgerEntry]) -> tuple[Decimal, int]:
    (entry,) = entries
    return entry.amount, entry.version.number


def test_a_win_earns_by_the_version_of_its_quarter_and_names_it(clock):
    _book()
    quarter_close(quarter="2026Q2")
    first = ProgramVersion.objects.get(program=_program())
    # The live program unchanged: the win earns by the version the last close used.
    assert _spiff(_first_win("A", date(2026, 7, 10))) == (Decimal("1000.00"), 1)
    first.refresh_from_db()
    assert first.decided_entries
    # An edit of the live program counts from the next win, recorded as a new version
    # effective from the quarter; the first keeps what it decided.
    Program.objects.filter(pk=_program().pk).update(spiff_first_deal=Decimal("2000"))
    assert _spiff(_first_win("B", date(2026, 7, 11))) == (Decimal("2000.00"), 2)
    Program.objects.filter(pk=_program().pk).update(spiff_first_deal=Decimal("3000"))
    assert _spiff(_first_win("C", date(2026, 7, 12))) == (Decimal("3000.00"), 3)
    third = ProgramVersion.objects.get(program=_program(), number=3)
    assert (third.effective_from, third.origin) == ("2026Q3", "live")
    first.refresh_from_db()
    assert Decimal(first.rules["incentives"]["spiff_first_deal"]) == Decimal("1000")
    # A late win in the closed quarter earns by the version that quarter was closed under.
    assert _spiff(_first_win("Late", date(2026, 6, 20))) == (Decimal("1000.00"), 1)
    # A contribution's bonus names its version too.
    partner = PartnerFactory(name="Writer")
    person = PartnerUserFactory(partner=partner).user
    contribution = contribution_submit(partner=partner, by=person, kind="reference", title="Ref")
    contribution_decide(contribution=contribution, by=person, approve=True)
    bonus = LedgerEntry.objects.get(partner=partner, code="bonus_reference")
    assert (bonus.amount, bonus.version_id) == (Decimal("250.00"), third.pk)
    # The close of 2026Q3 decides under the latest version of the quarter, unchanged.
    with time_machine.travel(datetime(2026, 10, 5, 9, 0, tzinfo=UTC), tick=False):
        quarter_close(quarter="2026Q3")
    assert set(Scorecard.objects.filter(quarter="2026Q3").values_list("version_id", flat=True)) == {
        third.pk
    }
    assert ProgramVersion.objects.filter(program=_program()).count() == 3
    everything = LedgerEntry.objects.filter(kind__in=("spiff", "bonus")).select_related("version")
    assert replay_win_differences(list(everything)) == []


def test_wins_in_a_published_drafts_quarter_earn_by_the_draft(clock, chief):
    _book()
    quarter_close(quarter="2026Q2")
    draft = version_copy_to_draft(program=_program(), by=chief)
    rules = draft.rules
    rules["incentives"]["spiff_first_deal"] = "5000"
    version_update_draft(version=draft, rules=rules, by=chief)
    version_publish(version=draft, effective_from="2026Q4", by=chief)
    # Before its quarter, wins earn by the live program.
    assert _spiff(_first_win("Before", date(2026, 7, 10))) == (Decimal("1000.00"), 1)
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        assert _spiff(_first_win("During", date(2026, 10, 20))) == (Decimal("5000.00"), 2)
    # The live program takes the draft's numbers at its first close, not before.
    assert _program().spiff_first_deal == Decimal("1000")


def test_a_draft_changing_spiffs_shows_the_payout_difference(clock, chief):
    _book()  # two partners, each with its first win in 2026Q2
    quarter_close(quarter="2026Q2")
    draft = version_copy_to_draft(program=_program(), by=chief)
    rules = draft.rules
    rules["incentives"]["spiff_first_deal"] = "1500"
    version_update_draft(version=draft, rules=rules, by=chief)
    tried = what_if(draft, by=chief)
    assert tried.total("incentives_actual") == Decimal("2000.00")
    assert tried.total("incentives_draft") == Decimal("3000.00")
    assert tried.total("payout_difference") == Decimal("1000.00")
    assert {row.payout_difference for row in tried.rows} == {Decimal("500.00")}
    # A SPIFF that lapsed unclaimed would have lapsed under the draft too.
    LedgerEntry.objects.filter(partner__name="Far Below", code="spiff_first_deal").update(
        status="void"
    )
    lapsed = what_if(draft, by=chief)
    assert lapsed.total("incentives_actual") == Decimal("1000.00")
    assert lapsed.total("incentives_draft") == Decimal("1500.00")


def test_a_win_dated_back_earns_no_second_first_deal_spiff(clock):
    """The first win is the first one recorded: one reported later with an earlier close
    date is not the partner's first (and a replay says the same as at the time)."""
    partner = PartnerFactory(name="Backdater", tier=default_tier("registered"))
    now = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    first = WonDealFactory(partner=partner, closed_on=date(2026, 7, 10), closed_at=now)
    deal_accrue_incentives(first)
    later = WonDealFactory(
        partner=partner, closed_on=date(2026, 7, 1), closed_at=now + timedelta(hours=1)
    )
    deal_accrue_incentives(later)
    spiffs = LedgerEntry.objects.filter(partner=partner, code="spiff_first_deal")
    assert list(spiffs.values_list("source_id", flat=True)) == [first.pk]
    assert replay_win_differences(list(LedgerEntry.objects.filter(partner=partner))) == []
