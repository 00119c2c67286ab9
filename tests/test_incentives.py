"""The money engine on PostgreSQL: accruals, claims, payments and MDF (RULEBOOK §5–§7)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from deals import services as deal_services
from deals.models import DealStatus
from incentives import rules
from incentives.models import (
    EntryStatus,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfFund,
    MdfProof,
)
from incentives.proofs import proof_from_upload
from incentives.queries import ledger_totals, mdf_return
from incentives.services.claims import (
    claim_approve,
    claim_dispute,
    claim_reject,
    claim_resolve_dispute,
    claim_submit,
    claims_flag_overdue,
    ledger_void_lapsed,
)
from incentives.services.common import IncentiveError
from incentives.services.contributions import contribution_decide, contribution_submit
from incentives.services.ledger import (
    award_confirm,
    award_decline,
    deal_incentives_accrue,
    ledger_mark_paid,
)
from incentives.services.mdf import (
    mdf_claim_approve,
    mdf_claim_reject,
    mdf_claim_submit,
    mdf_expire_lapsed,
    mdf_request_approve,
    mdf_request_submit,
)
from partners.models import ProgramHoliday
from scoring.services.close import quarter_close
from tests.factories import (
    DealFactory,
    LedgerEntryFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    ProductFactory,
    WonDealFactory,
    default_tier,
)

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


def pdf(name="report.pdf", content=PDF):
    return proof_from_upload(SimpleUploadedFile(name, content, content_type="application/pdf"))


# ---------------------------------------------------------------- accrual on a win


def approved_deal(partner, *, days_ago, **fields):
    submitted = MONDAY - timedelta(days=days_ago)
    return DealFactory(
        partner=partner,
        status=DealStatus.APPROVED,
        submitted_at=submitted,
        approved_at=submitted + timedelta(hours=2),
        expires_on=(submitted + timedelta(days=90)).date(),
        **fields,
    )


@pytest.mark.django_db
def test_the_stacking_example_through_the_win_service(monday, partner_a, manager):
    deal = approved_deal(partner_a, days_ago=45, amount=D("150000"))
    deal.products.set([ProductFactory(strategic=True)])
    deal_services.deal_win(deal=deal, by=manager, amount="150000", closed_on=date(2026, 11, 23))

    entries = LedgerEntry.objects.filter(partner=partner_a).order_by("amount")
    assert [(e.code, e.amount) for e in entries] == [
        ("spiff_new_logo", D("500.00")),
        ("spiff_strategic", D("750.00")),
        ("spiff_first_deal", D("1000.00")),
        ("spiff_large_deal", D("3000.00")),
    ]
    assert {e.status for e in entries} == {EntryStatus.ACCRUED}
    assert {e.claim_by for e in entries} == {date(2026, 12, 23)}
    assert {e.source for e in entries} == {deal}
    assert entries[0].quarter == "2026Q4"
    assert partner_a.notices.filter(text__contains="5,250.00").exists()

    # The partner's second win is not its first: no first-deal SPIFF.
    second = approved_deal(partner_a, days_ago=80, amount=D("20000"))
    deal_services.deal_win(deal=second, by=manager, amount="20000", closed_on=date(2026, 11, 23))
    assert not LedgerEntry.objects.filter(source_id=second.pk, code="spiff_first_deal").exists()
    assert not LedgerEntry.objects.filter(source_id=second.pk, code="spiff_new_logo").exists()


@pytest.mark.django_db
def test_referral_commission_is_owed_at_once(monday, partner_a, manager):
    deal = approved_deal(
        partner_a,
        days_ago=100,
        amount=D("40000"),
        compensation_model="referral",
        deal_type="upsell",
    )
    deal_services.deal_win(deal=deal, by=manager, amount="40000", closed_on=date(2026, 11, 20))
    commission = LedgerEntry.objects.get(source_id=deal.pk, kind="commission")
    assert commission.amount == D("5000.00")  # silver: 12.5% of first-year revenue
    assert commission.status == EntryStatus.APPROVED
    assert commission.claim_by is None
    # 15 business days after Fri 20 Nov 2026, skipping Thanksgiving (26 Nov).
    assert commission.due_on == date(2026, 12, 14)
    assert LedgerEntry.objects.get(source_id=deal.pk, code="bonus_upsell").amount == D("800.00")


@pytest.mark.django_db
def test_accruing_a_win_twice_adds_nothing(monday, partner_a, manager):
    deal = approved_deal(partner_a, days_ago=10, amount=D("150000"))
    deal_services.deal_win(deal=deal, by=manager, amount="150000", closed_on=date(2026, 11, 23))
    before = list(LedgerEntry.objects.values_list("idempotency_key", "amount"))
    deal.refresh_from_db()
    again = deal_incentives_accrue(
        partner=partner_a,
        source=deal,
        won=rules.WonDeal(
            amount=D("150000"),
            partner_credit=D("150000"),
            deal_type="new_logo",
            days_to_win=10,
            strategic=False,
            first_win=True,
        ),
        closed_on=date(2026, 11, 23),
    )
    assert again == []
    assert list(LedgerEntry.objects.values_list("idempotency_key", "amount")) == before
    assert LedgerEntry.history.count() == len(before)


# ---------------------------------------------------------------- the quarter close


@pytest.mark.django_db
def test_the_close_accrues_rebates_and_proposes_awards_once(monday, manager):
    big = PartnerFactory(tier=default_tier("gold"), channel_manager=manager)
    small = PartnerFactory(tier=default_tier("silver"), channel_manager=manager)
    for partner, amount, deal_type in (
        (big, D("300000"), "new_logo"),
        (small, D("60000"), "upsell"),
    ):
        WonDealFactory(
            partner=partner,
            amount=amount,
            deal_type=deal_type,
            submitted_at=datetime(2026, 7, 1, tzinfo=UTC),
            closed_on=date(2026, 8, 15),
        )
    first = quarter_close(quarter="2026Q3", notify=False)
    rebates = LedgerEntry.objects.filter(kind="rebate")
    assert [(r.partner_id, r.amount, r.due_on, r.status) for r in rebates] == [
        (big.pk, D("10500.00"), date(2026, 10, 30), EntryStatus.APPROVED)
    ]
    awards = dict(LedgerEntry.objects.filter(kind="award").values_list("code", "partner_id"))
    assert awards["award_top_new_logo"] == big.pk
    assert set(awards) <= {
        "award_partner_of_quarter",
        "award_top_new_logo",
        "award_highest_growth",
        "award_training_champion",
        "award_community_mvp",
    }
    assert LedgerEntry.objects.filter(kind="award", status=EntryStatus.ACCRUED).count() == len(
        awards
    )
    assert first.rebates == 1 and first.awards_proposed == len(awards)
    funds = dict(MdfFund.objects.filter(fiscal_year=2026).values_list("partner_id", "amount"))
    assert funds == {big.pk: D("12000.00"), small.pk: D("1200.00")}  # 4% and 2% of T12M

    snapshot = list(LedgerEntry.objects.order_by("pk").values_list("idempotency_key", "amount"))
    second = quarter_close(quarter="2026Q3", notify=False)
    assert (
        list(LedgerEntry.objects.order_by("pk").values_list("idempotency_key", "amount"))
        == snapshot
    )
    assert (second.rebates, second.awards_proposed) == (first.rebates, first.awards_proposed)
    assert MdfFund.objects.count() == 2


@pytest.mark.django_db
def test_a_manager_confirms_or_declines_an_award(monday, partner_a, manager):
    award = LedgerEntryFactory(
        partner=partner_a,
        kind="award",
        code="award_partner_of_quarter",
        amount=D("5000"),
        claim_by=None,
    )
    award_confirm(entry=award, by=manager)
    award.refresh_from_db()
    assert award.status == EntryStatus.APPROVED
    assert award.due_on == date(2026, 12, 15)  # 15 business days, Thanksgiving skipped
    with pytest.raises(IncentiveError):
        award_confirm(entry=award, by=manager)
    other = LedgerEntryFactory(partner=partner_a, kind="award", code="award_community_mvp")
    with pytest.raises(ValidationError):
        award_decline(entry=other, by=manager, reason=" ")
    award_decline(entry=other, by=manager, reason="Contributions were not original")
    other.refresh_from_db()
    assert other.status == EntryStatus.VOID


# ---------------------------------------------------------------- claims


@pytest.mark.django_db
def test_a_claim_in_its_window_is_approved_and_paid_once(monday, partner_a, a_admin, manager):
    entries = [LedgerEntryFactory(partner=partner_a) for _ in range(2)]
    claim = claim_submit(
        partner=partner_a, entry_ids=[e.pk for e in entries], by=a_admin, note="Q4 SPIFFs"
    )
    assert claim.amount == D("1500.00")
    assert claim.verify_by == date(2026, 12, 1)  # 5 business days, Thanksgiving skipped
    claim_approve(claim=claim, by=manager)
    approved = LedgerEntry.objects.filter(claim=claim)
    assert {(e.status, e.due_on) for e in approved} == {(EntryStatus.APPROVED, date(2026, 12, 15))}
    with pytest.raises(IncentiveError) as refused:
        claim_approve(claim=claim, by=manager)
    assert refused.value.status == 409

    assert ledger_mark_paid(entry_ids=[e.pk for e in entries], by=manager, reference="RUN-1") == 2
    assert ledger_mark_paid(entry_ids=[e.pk for e in entries], by=manager, reference="RUN-2") == 0
    assert set(approved.values_list("payment_reference", flat=True)) == {"RUN-1"}
    assert ledger_totals(LedgerEntry.objects.filter(partner=partner_a))["paid"] == D("1500.00")


@pytest.mark.django_db
def test_a_late_claim_is_refused_with_the_date_it_was_due(monday, partner_a, a_admin):
    on_time = LedgerEntryFactory(partner=partner_a)
    late = LedgerEntryFactory(
        partner=partner_a, earned_on=date(2026, 10, 1), claim_by=date(2026, 10, 31)
    )
    with pytest.raises(IncentiveError) as refused:
        claim_submit(partner=partner_a, entry_ids=[on_time.pk, late.pk], by=a_admin)
    assert refused.value.code == "claim_late"
    assert "2026-10-31" in refused.value.message
    assert not IncentiveClaim.objects.exists()
    on_time.refresh_from_db()
    assert on_time.claim_id is None


@pytest.mark.django_db
def test_claims_only_for_the_partners_own_claimable_entries(monday, partner_a, partner_b, a_admin):
    foreign = LedgerEntryFactory(partner=partner_b)
    with pytest.raises(ValidationError):
        claim_submit(partner=partner_a, entry_ids=[foreign.pk], by=a_admin)
    rebate = LedgerEntryFactory(partner=partner_a, kind="rebate", claim_by=None)
    with pytest.raises(ValidationError):
        claim_submit(partner=partner_a, entry_ids=[rebate.pk], by=a_admin)
    with pytest.raises(ValidationError):
        claim_submit(partner=partner_a, entry_ids=[], by=a_admin)
    entry = LedgerEntryFactory(partner=partner_a)
    claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    with pytest.raises(IncentiveError):
        claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)


@pytest.mark.django_db
def test_rejection_dispute_and_the_chiefs_decision(
    monday, partner_a, a_admin, manager, chief, queued_mail, django_capture_on_commit_callbacks
):
    entry = LedgerEntryFactory(partner=partner_a)
    claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    with pytest.raises(ValidationError):
        claim_reject(claim=claim, by=manager, reason="")
    claim_reject(claim=claim, by=manager, reason="The product is not strategic")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        claim_dispute(claim=claim, by=a_admin, reason="It is on the strategic list")
    queued_mail()
    claim.refresh_from_db()
    assert claim.status == "disputed"
    assert mail.outbox and mail.outbox[0].to == [chief.email]
    claim_resolve_dispute(claim=claim, by=chief, overturn=True, note="It is strategic")
    entry.refresh_from_db()
    assert (claim.__class__.objects.get(pk=claim.pk).status, entry.status) == (
        "approved",
        EntryStatus.APPROVED,
    )

    second = LedgerEntryFactory(partner=partner_a)
    claim2 = claim_submit(partner=partner_a, entry_ids=[second.pk], by=a_admin)
    claim_reject(claim=claim2, by=manager, reason="Duplicate")
    claim_dispute(claim=claim2, by=a_admin, reason="Not a duplicate")
    claim_resolve_dispute(claim=claim2, by=chief, overturn=False, note="Duplicate")
    second.refresh_from_db()
    assert second.status == EntryStatus.VOID


@pytest.mark.django_db
def test_a_dispute_after_its_window_is_refused(partner_a, a_admin, manager):
    entry = LedgerEntryFactory(partner=partner_a)
    with time_machine.travel(MONDAY, tick=False):
        claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
        claim_reject(claim=claim, by=manager, reason="No proof")
    with time_machine.travel(MONDAY + timedelta(days=31), tick=False):
        with pytest.raises(IncentiveError) as refused:
            claim_dispute(claim=claim, by=a_admin, reason="Late")
        assert "2026-12-23" in refused.value.message
        assert ledger_void_lapsed() == 1
    entry.refresh_from_db()
    assert entry.status == EntryStatus.VOID


@pytest.mark.django_db
def test_overdue_claims_are_flagged_once_to_the_manager(
    partner_a, a_admin, manager, queued_mail, django_capture_on_commit_callbacks
):
    ProgramHoliday.objects.create(program=partner_a.program, day=date(2026, 11, 27), name="Day off")
    entry = LedgerEntryFactory(partner=partner_a, earned_on=date(2026, 11, 20))
    with time_machine.travel(MONDAY, tick=False):
        claim = claim_submit(partner=partner_a, entry_ids=[entry.pk], by=a_admin)
    assert claim.verify_by == date(2026, 12, 2)  # Thanksgiving and the program's day off
    with time_machine.travel(datetime(2026, 12, 2, 12, tzinfo=UTC), tick=False):
        assert claims_flag_overdue() == 0
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert claims_flag_overdue() == 1
            assert claims_flag_overdue() == 0
    queued_mail()
    assert [m.to for m in mail.outbox] == [[manager.email]]
    claim.refresh_from_db()
    assert claim.overdue_flagged_at is not None


@pytest.mark.django_db
def test_unclaimed_entries_are_voided_after_their_window(partner_a):
    entry = LedgerEntryFactory(partner=partner_a, earned_on=date(2026, 10, 1))
    with time_machine.travel(datetime(2026, 10, 31, 12, tzinfo=UTC), tick=False):
        assert ledger_void_lapsed() == 0
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=False):
        assert ledger_void_lapsed() == 1
    entry.refresh_from_db()
    assert (entry.status, entry.void_reason) == (EntryStatus.VOID, "Not claimed in time")


# ---------------------------------------------------------------- contributions


@pytest.mark.django_db
def test_approved_contributions_earn_their_bonus_once(monday, partner_a, a_admin, manager):
    reference = contribution_submit(
        partner=partner_a, by=a_admin, kind="reference", title="Acme case study"
    )
    contribution_decide(contribution=reference, by=manager, approve=True)
    with pytest.raises(IncentiveError):
        contribution_decide(contribution=reference, by=manager, approve=True)
    bonus = LedgerEntry.objects.get(code="bonus_reference")
    assert (bonus.amount, bonus.status) == (D("250.00"), EntryStatus.APPROVED)
    post = contribution_submit(
        partner=partner_a, by=a_admin, kind="community", title="Forum answer"
    )
    contribution_decide(contribution=post, by=manager, approve=False, reason="Off topic")
    assert not LedgerEntry.objects.filter(code="bonus_community").exists()


# ---------------------------------------------------------------- MDF


@pytest.mark.django_db
def test_mdf_from_request_to_reimbursement(monday, partner_a, a_admin, manager):
    fund = MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("10000"))
    request = mdf_request_submit(
        partner=partner_a,
        by=a_admin,
        activity_type="joint_webinar",
        title="Cloud webinar",
        planned_cost="6000",
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 1),
        expected_leads=80,
    )
    assert request.claim_due_on == date(2026, 12, 31)
    mdf_request_approve(request=request, by=manager)
    fund.refresh_from_db()
    assert (fund.reserved, fund.available) == (D("6000.00"), D("4000.00"))

    with time_machine.travel(datetime(2026, 12, 10, 12, tzinfo=UTC), tick=False):
        claim = mdf_claim_submit(
            request=request, by=a_admin, actual_cost="5200", leads_generated=95, files=[pdf()]
        )
        mdf_claim_approve(claim=claim, by=manager)
    claim.refresh_from_db()
    fund.refresh_from_db()
    assert claim.reimbursement == D("5200.00")
    assert (fund.reserved, fund.reimbursed, fund.available) == (
        D("0.00"),
        D("5200.00"),
        D("4800.00"),
    )
    entry = LedgerEntry.objects.get(kind="mdf")
    assert (entry.amount, entry.status, entry.source) == (
        D("5200.00"),
        EntryStatus.APPROVED,
        request,
    )
    assert claim.proofs.get().file.read() == PDF
    with pytest.raises(IncentiveError):
        mdf_claim_approve(claim=claim, by=manager)
    assert LedgerEntry.objects.filter(kind="mdf").count() == 1


@pytest.mark.django_db
def test_a_two_to_one_match_reimburses_two_thirds(monday, manager, a_admin, partner_a):
    fund = MdfFundFactory(
        partner=partner_a, fiscal_year=2026, amount=D("50000"), match_ratio=D("2")
    )
    request = MdfRequestFactory(fund=fund, planned_cost=D("9000"), starts_on=date(2026, 11, 24))
    mdf_request_approve(request=request, by=manager)
    request.refresh_from_db()
    assert request.reserved_amount == D("6000.00")
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
        claim = mdf_claim_submit(
            request=request, by=a_admin, actual_cost="12000", leads_generated=10, files=[pdf()]
        )
        mdf_claim_approve(claim=claim, by=manager)
    claim.refresh_from_db()
    assert claim.reimbursement == D("6000.00")  # min(6000 reserved, 8000 share)


@pytest.mark.django_db
def test_mdf_requests_are_refused_clearly(monday, partner_a, a_admin):
    common = {
        "partner": partner_a,
        "by": a_admin,
        "activity_type": "event",
        "title": "Roadshow",
        "expected_leads": 30,
    }
    with pytest.raises(IncentiveError) as refused:
        mdf_request_submit(
            planned_cost="100", starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 2), **common
        )
    assert refused.value.code == "no_fund"
    MdfFundFactory(partner=partner_a, fiscal_year=2026, amount=D("1000"))
    with pytest.raises(IncentiveError) as refused:
        mdf_request_submit(
            planned_cost="1500", starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 2), **common
        )
    assert refused.value.code == "fund_exhausted"
    with pytest.raises(ValidationError):
        mdf_request_submit(
            planned_cost="100", starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 2), **common
        )
    with pytest.raises(ValidationError):
        mdf_request_submit(
            planned_cost="100", starts_on=date(2026, 12, 5), ends_on=date(2026, 12, 2), **common
        )


def approved_request(manager, partner, **fields):
    fund = MdfFundFactory(partner=partner, fiscal_year=2026)
    request = MdfRequestFactory(fund=fund, **fields)
    mdf_request_approve(request=request, by=manager)
    request.refresh_from_db()
    return request


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (("big.pdf", PDF + b"0" * 2048), "the limit is"),
        (("tool.exe", b"MZ\x90\x00"), "not accepted"),
        (("fake.pdf", b"MZ\x90\x00 not a pdf"), "not really a .pdf"),
        (("empty.png", b""), "is empty"),
    ],
)
def test_a_bad_proof_is_refused_and_nothing_is_saved(
    settings, manager, a_admin, partner_a, upload, message
):
    settings.MDF_PROOF_MAX_BYTES = 1024
    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    with (
        time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False),
        pytest.raises(ValidationError) as refused,
    ):
        mdf_claim_submit(
            request=request,
            by=a_admin,
            actual_cost="100",
            leads_generated=1,
            files=[pdf(), pdf(*upload)],
        )
    assert message in str(refused.value)
    assert not MdfClaim.objects.exists() and not MdfProof.objects.exists()
    request.refresh_from_db()
    assert request.status == "approved"


@pytest.mark.django_db
def test_a_late_mdf_claim_is_refused_with_its_due_date(manager, a_admin, partner_a):
    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    with (
        time_machine.travel(datetime(2026, 12, 21, 12, tzinfo=UTC), tick=False),
        pytest.raises(IncentiveError) as refused,
    ):
        mdf_claim_submit(
            request=request, by=a_admin, actual_cost="100", leads_generated=1, files=[pdf()]
        )
    assert refused.value.code == "claim_late" and "2026-12-20" in refused.value.message
    assert not MdfClaim.objects.exists()


@pytest.mark.django_db
def test_a_failing_store_removes_the_files_it_saved(manager, a_admin, partner_a, monkeypatch):
    """The storage fails on the second file (disk full): the claim is rolled back and the
    first file, already stored, is deleted again."""
    from django.core.files.storage import default_storage

    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    stored = []
    real_save = default_storage._save

    def full_after_one(name, content):
        if stored:
            raise OSError("No space left on device")
        stored.append(real_save(name, content))
        return stored[-1]

    monkeypatch.setattr(default_storage, "_save", full_after_one)
    with (
        time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False),
        pytest.raises(OSError),
    ):
        mdf_claim_submit(
            request=request,
            by=a_admin,
            actual_cost="100",
            leads_generated=1,
            files=[pdf("a.pdf"), pdf("b.pdf")],
        )
    assert len(stored) == 1
    assert not default_storage.exists(stored[0])
    assert not MdfClaim.objects.exists() and not MdfProof.objects.exists()


@pytest.mark.django_db
def test_a_rejected_mdf_claim_can_be_filed_again_in_its_window(manager, a_admin, partner_a):
    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
        first = mdf_claim_submit(
            request=request, by=a_admin, actual_cost="100", leads_generated=1, files=[pdf()]
        )
        mdf_claim_reject(claim=first, by=manager, reason="Attach the invoice")
        request.refresh_from_db()
        assert request.status == "approved"
        mdf_claim_submit(
            request=request, by=a_admin, actual_cost="100", leads_generated=1, files=[pdf()]
        )
    assert MdfClaim.objects.filter(status="submitted").count() == 1


@pytest.mark.django_db
def test_lapsed_requests_release_their_reservation(manager, partner_a):
    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    fund = request.fund
    fund.refresh_from_db()
    assert fund.reserved == D("4000.00")
    with time_machine.travel(datetime(2026, 12, 21, 12, tzinfo=UTC), tick=False):
        assert mdf_expire_lapsed() == 1
        assert mdf_expire_lapsed() == 0
    fund.refresh_from_db()
    request.refresh_from_db()
    assert (fund.reserved, request.status) == (D("0.00"), "expired")


@pytest.mark.django_db
def test_mdf_return_is_pipeline_and_revenue_each_over_mdf_used(monday, manager, a_admin, partner_a):
    request = approved_request(manager, partner_a, starts_on=date(2026, 11, 20))
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC), tick=False):
        claim = mdf_claim_submit(
            request=request, by=a_admin, actual_cost="4000", leads_generated=40, files=[pdf()]
        )
        mdf_claim_approve(claim=claim, by=manager)
    # Approved and not yet claimed: its reservation is MDF used too.
    mdf_request_approve(
        request=MdfRequestFactory(fund=request.fund, planned_cost=D("1000")), by=manager
    )
    DealFactory(partner=partner_a, mdf_request=request, amount=D("60000"))
    WonDealFactory(partner=partner_a, mdf_request=request, partner_credit=D("20000"))
    WonDealFactory(partner=partner_a, partner_credit=D("99999"))  # not sourced by MDF
    figures = mdf_return(partner_a.mdf_funds.all())
    assert (figures["pipeline"], figures["revenue"], figures["reimbursed"]) == (
        D("60000.00"),
        D("20000.00"),
        D("4000.00"),
    )
    assert (figures["reserved"], figures["used"]) == (D("1000.00"), D("5000.00"))
    assert figures["pipeline_return"] == D("12.0")  # 60,000 ÷ 5,000
    assert figures["revenue_return"] == D("4.0")  # 20,000 ÷ 5,000
    assert "roi" not in figures  # never one figure without its label


@pytest.mark.django_db
def test_a_deal_names_only_its_own_approved_mdf_activity(monday, partner_a, partner_b, a_admin):
    theirs = MdfRequestFactory(fund=MdfFundFactory(partner=partner_b, fiscal_year=2026))
    with pytest.raises(ValidationError):
        deal_services.deal_register(
            partner=partner_a,
            submitted_by=a_admin,
            customer_name="Sourced Inc",
            amount="1000",
            expected_close=date(2027, 1, 31),
            deal_type="new_logo",
            compensation_model="reseller",
            mdf_request=theirs,
        )
