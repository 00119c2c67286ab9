"""Deal registration services against RULEBOOK §4 and §5, boundaries included."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from deals import services
from deals.models import ConflictCase, Deal, DealStatus
from partners.models import Account, Notice, RedFlag
from tests.factories import (
    AccountFactory,
    LeadFactory,
    PartnerFactory,
    PartnerUserFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def register(partner, user=None, **overrides):
    fields = {
        "customer_name": "Globex Corporation",
        "customer_domain": "globex.example",
        "amount": "100000.00",
        "expected_close": date(2026, 6, 30),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    fields.update(overrides)
    return services.deal_register(partner=partner, submitted_by=user, **fields)


@pytest.fixture
def rep_a(partner_a):
    return PartnerUserFactory(partner=partner_a).user


@pytest.fixture
def rep_b(partner_b):
    return PartnerUserFactory(partner=partner_b).user


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# ---------------------------------------------------------------- the checks, in order


def test_a_clean_registration_is_pending_on_a_new_account(partner_a, rep_a, now):
    deal = register(partner_a, rep_a)
    assert deal.status == DealStatus.PENDING
    assert deal.submitted_at == T0
    assert deal.account.domain_key == "globex.example"
    assert not deal.direct_conflict
    assert deal.reason == ""


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"status": "suspended"}, "partner_inactive"),
        ({"agreement_signed_on": None}, "agreement_unsigned"),
    ],
)
def test_partner_that_cannot_register_is_refused_with_403(partner_a, rep_a, now, change, code):
    for field, value in change.items():
        setattr(partner_a, field, value)
    partner_a.save()
    with pytest.raises(services.DealError) as refused:
        register(partner_a, rep_a)
    assert (refused.value.status, refused.value.code) == (403, code)
    assert refused.value.message
    assert not Deal.objects.exists()


def test_open_cert_lapsed_flag_blocks_registration(partner_a, rep_a, now):
    RedFlag.objects.create(partner=partner_a, kind="cert_lapsed")
    with pytest.raises(services.DealError) as refused:
        register(partner_a, rep_a)
    assert (refused.value.status, refused.value.code) == (403, "cert_lapsed")
    RedFlag.objects.update(status="resolved")
    assert register(partner_a, rep_a).status == DealStatus.PENDING


def test_lead_created_one_second_before_submission_rejects(partner_a, rep_a, now):
    LeadFactory(domain="www.globex.example", created_at=T0 - timedelta(seconds=1))
    deal = register(partner_a, rep_a)
    assert deal.status == DealStatus.REJECTED
    assert deal.reason == "existing_lead"
    (notice,) = Notice.objects.filter(partner=partner_a)
    assert "already in our sales pipeline" in notice.text


def test_lead_created_one_second_after_submission_does_not_reject(partner_a, rep_a, now):
    LeadFactory(domain="globex.example", created_at=T0 + timedelta(seconds=1))
    assert register(partner_a, rep_a).status == DealStatus.PENDING


def test_lead_matches_by_company_name_when_no_domain(partner_a, rep_a, now):
    LeadFactory(company_name="GLOBEX Corp.", domain="", created_at=T0 - timedelta(days=3))
    deal = register(partner_a, rep_a, customer_name="Globex Corporation", customer_domain="")
    assert deal.reason == "existing_lead"


def test_lead_passed_to_this_partner_does_not_count_against_it(partner_a, rep_a, now):
    LeadFactory(domain="globex.example", partner=partner_a, created_at=T0 - timedelta(days=1))
    assert register(partner_a, rep_a).status == DealStatus.PENDING


def test_second_partner_is_rejected_told_at_once_and_a_case_opens(
    partner_a, partner_b, rep_a, rep_b, now, queued_mail, django_capture_on_commit_callbacks
):
    first = register(partner_a, rep_a)
    with django_capture_on_commit_callbacks(execute=True):
        second = register(partner_b, rep_b, customer_domain="https://WWW.Globex.example/about")
    queued_mail()
    assert second.status == DealStatus.REJECTED
    assert second.reason == "registered_by_another_partner"
    assert second.account == first.account
    case = ConflictCase.objects.get(scenario="two_partners")
    assert (case.partner, case.other_partner, case.deal, case.other_deal) == (
        partner_b,
        partner_a,
        second,
        first,
    )
    assert case.sla_due_at == T0 + timedelta(hours=24)
    notice = Notice.objects.get(partner=partner_b)
    assert notice.user == rep_b
    assert partner_a.name not in notice.text
    assert any(rep_b.email in m.to for m in mail.outbox)
    assert all(partner_a.name not in m.body for m in mail.outbox if rep_b.email in m.to)


def test_same_partner_twice_is_a_duplicate_400_and_stores_nothing(partner_a, rep_a, now):
    register(partner_a, rep_a)
    with pytest.raises(services.DealError) as refused:
        register(partner_a, rep_a, customer_name="Globex Corp")
    assert (refused.value.status, refused.value.code) == (400, "duplicate")
    assert Deal.objects.count() == 1


def test_lead_check_comes_before_the_first_to_register_check(
    partner_a, partner_b, rep_a, rep_b, now
):
    register(partner_a, rep_a)
    LeadFactory(domain="globex.example", created_at=T0 - timedelta(days=1))
    assert register(partner_b, rep_b).reason == "existing_lead"


def test_names_match_across_legal_suffixes_and_punctuation(partner_a, partner_b, rep_a, rep_b, now):
    register(partner_a, rep_a, customer_name="Initech, L.L.C.", customer_domain="")
    second = register(partner_b, rep_b, customer_name="INITECH llc", customer_domain="")
    assert second.reason == "registered_by_another_partner"
    assert Account.objects.filter(name_key="initech").count() == 1


def test_same_name_on_another_domain_is_another_customer(partner_a, partner_b, rep_a, rep_b, now):
    register(partner_a, rep_a, customer_name="Acme", customer_domain="acme.com")
    other = register(partner_b, rep_b, customer_name="Acme", customer_domain="acme.io")
    assert other.status == DealStatus.PENDING


def test_direct_rep_account_marks_direct_conflict_and_opens_a_48h_case(partner_a, rep_a, now):
    AccountFactory(name="Globex", domain="globex.example", direct_rep="ae@vendor.example")
    deal = register(partner_a, rep_a)
    assert deal.status == DealStatus.PENDING
    assert deal.direct_conflict
    case = ConflictCase.objects.get(deal=deal)
    assert case.scenario == "partner_vs_direct"
    assert case.sla_due_at == T0 + timedelta(hours=48)


# ---------------------------------------------------------------- approval SLA and protection


def test_auto_approval_at_exactly_48h_waits_and_one_second_later_approves(partner_a, rep_a, now):
    deal = register(partner_a, rep_a)
    now.move_to(T0 + timedelta(hours=48))
    assert services.deals_auto_approve() == 0
    now.move_to(T0 + timedelta(hours=48, seconds=1))
    assert services.deals_auto_approve() == 1
    deal.refresh_from_db()
    assert deal.status == DealStatus.APPROVED
    assert deal.auto_approved
    assert deal.approved_by is None
    assert deal.approved_at == T0 + timedelta(hours=48, seconds=1)
    assert services.deals_auto_approve() == 0  # a second run finds nothing


def test_manager_approval_protects_90_days_from_submission(partner_a, rep_a, manager, now):
    deal = register(partner_a, rep_a)
    now.move_to(T0 + timedelta(hours=5))
    deal = services.deal_approve(deal=deal, by=manager)
    assert deal.expires_on == date(2026, 5, 31)  # 2 March + 90 days
    assert deal.approved_by == manager
    with pytest.raises(services.DealError) as again:
        services.deal_approve(deal=deal, by=manager)
    assert again.value.status == 409


def test_day_90_is_protected_and_day_91_expires(partner_a, partner_b, rep_a, rep_b, manager, now):
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    now.move_to(datetime(2026, 5, 31, 23, 0, tzinfo=UTC))  # day 90
    assert services.deals_expire_lapsed() == 0
    assert register(partner_b, rep_b).reason == "registered_by_another_partner"
    now.move_to(datetime(2026, 6, 1, 0, 30, tzinfo=UTC))  # day 91
    assert services.deals_expire_lapsed() == 1
    deal.refresh_from_db()
    assert deal.status == DealStatus.EXPIRED
    assert services.deals_expire_lapsed() == 0


def test_lapsed_protection_frees_the_account_even_before_the_daily_job(
    partner_a, partner_b, rep_a, rep_b, manager, now
):
    first = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    now.move_to(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    second = register(partner_b, rep_b)
    assert second.status == DealStatus.PENDING
    first.refresh_from_db()
    assert first.status == DealStatus.EXPIRED


def test_one_extension_of_30_days_while_protected(partner_a, rep_a, manager, now):
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    with pytest.raises(Exception, match="why"):
        services.deal_extend(deal=deal, by=rep_a, justification="  ")
    now.move_to(datetime(2026, 5, 31, 12, 0, tzinfo=UTC))  # last protected day
    deal = services.deal_extend(deal=deal, by=rep_a, justification="Legal review takes 3 weeks")
    assert deal.expires_on == date(2026, 6, 30)
    assert deal.extended
    with pytest.raises(services.DealError, match="already been extended"):
        services.deal_extend(deal=deal, by=rep_a, justification="Another month please")


def test_no_extension_after_the_protection_lapsed(partner_a, rep_a, manager, now):
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    now.move_to(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    with pytest.raises(services.DealError, match="lapsed"):
        services.deal_extend(deal=deal, by=rep_a, justification="Legal review takes 3 weeks")


def test_reject_needs_a_reason_and_tells_the_partner(partner_a, rep_a, manager, now):
    deal = register(partner_a, rep_a)
    with pytest.raises(Exception, match="why"):
        services.deal_reject(deal=deal, by=manager, reason="")
    deal = services.deal_reject(deal=deal, by=manager, reason="Customer is in a government freeze")
    assert (deal.status, deal.reason) == (DealStatus.REJECTED, "manager_rejected")
    assert deal.rejected_by == manager
    assert "government freeze" in Notice.objects.get(partner=partner_a, level="warning").text


# ---------------------------------------------------------------- wins (§5)


def test_win_while_protected_earns_the_tier_margin(partner_a, rep_a, manager, now):
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    now.move_to(datetime(2026, 5, 31, 15, 0, tzinfo=UTC))
    won = services.deal_win(
        deal=deal, by=manager, amount="90000", closed_on=date(2026, 5, 31), csat=4
    )
    assert won.protected_when_won
    assert won.margin_rate == Decimal("0.2000")  # silver
    assert won.partner_credit == Decimal("90000.00")
    assert won.partner_price == Decimal("72000.00")
    assert won.csat == 4
    assert Account.objects.get(pk=won.account_id).owning_partner == partner_a


def test_win_after_the_protection_earns_ten_percent(partner_a, rep_a, manager, now):
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    now.move_to(datetime(2026, 6, 2, 15, 0, tzinfo=UTC))
    won = services.deal_win(deal=deal, by=manager, amount="90000", closed_on=date(2026, 6, 1))
    assert not won.protected_when_won
    assert won.margin_rate == Decimal("0.1000")


def test_win_without_approval_earns_ten_percent(partner_a, rep_a, manager, now):
    won = services.deal_win(
        deal=register(partner_a, rep_a), by=manager, amount="1000", closed_on=T0.date()
    )
    assert won.margin_rate == Decimal("0.1000")


def test_direct_conflict_win_credits_the_partner_40_percent(partner_a, rep_a, manager, now):
    AccountFactory(domain="globex.example", direct_rep="ae@vendor.example")
    deal = services.deal_approve(deal=register(partner_a, rep_a), by=manager)
    won = services.deal_win(deal=deal, by=manager, amount="50000.01", closed_on=T0.date())
    assert won.partner_credit == Decimal("20000.00")


def test_referral_and_co_sell_and_oem(partner_a, rep_a, manager, now):
    referral = register(partner_a, rep_a, compensation_model="referral", contract_years=2)
    won = services.deal_win(deal=referral, by=manager, amount="120000", closed_on=T0.date())
    assert won.commission == Decimal("7500.00")  # 12.5% of first-year 60,000
    co_sell = register(
        partner_a, rep_a, customer_domain="cosell.example", compensation_model="co_sell"
    )
    won = services.deal_win(deal=co_sell, by=manager, amount="100000", closed_on=T0.date())
    assert won.partner_credit == Decimal("30000.00")
    oem = register(
        partner_a,
        rep_a,
        customer_domain="oem.example",
        compensation_model="oem",
        oem_discount="0.55",
    )
    won = services.deal_win(deal=oem, by=manager, amount="100000", closed_on=T0.date())
    assert won.partner_price == Decimal("45000.00")


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "-1"), ("amount", "1.234"), ("amount", "lots"), ("oem_discount", "0.9")],
)
def test_bad_registration_values_are_validation_errors(partner_a, rep_a, now, field, value):
    from django.core.exceptions import ValidationError

    overrides = {field: value}
    if field == "oem_discount":
        overrides["compensation_model"] = "oem"
    with pytest.raises(ValidationError) as error:
        register(partner_a, rep_a, **overrides)
    assert field in error.value.message_dict
    assert not Deal.objects.exists()


def test_win_in_the_future_or_bad_csat_is_refused(partner_a, rep_a, manager, now):
    from django.core.exceptions import ValidationError

    deal = register(partner_a, rep_a)
    with pytest.raises(ValidationError):
        services.deal_win(
            deal=deal, by=manager, amount="10", closed_on=T0.date() + timedelta(days=1)
        )
    with pytest.raises(ValidationError):
        services.deal_win(deal=deal, by=manager, amount="10", closed_on=T0.date(), csat=6)
    deal.refresh_from_db()
    assert deal.status == DealStatus.PENDING


def test_lost_deal_cannot_be_won(partner_a, rep_a, manager, now):
    deal = services.deal_lose(deal=register(partner_a, rep_a), by=manager)
    with pytest.raises(services.DealError) as refused:
        services.deal_win(deal=deal, by=manager, amount="10", closed_on=T0.date())
    assert refused.value.status == 409


# ---------------------------------------------------------------- import of history


@pytest.fixture
def long_standing(partner_a, partner_b):
    for partner in (partner_a, partner_b):
        partner.agreement_signed_on = date(2024, 1, 1)
        partner.save()


def test_import_before_the_agreement_was_signed_is_refused(partner_a, manager, now):
    with pytest.raises(services.DealError) as refused:
        register(partner_a, manager, submitted_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert refused.value.code == "agreement_unsigned"


def test_import_is_judged_as_of_its_submission(
    partner_a, partner_b, rep_a, manager, now, long_standing
):
    past = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
    LeadFactory(domain="globex.example", created_at=past + timedelta(days=1))
    deal = register(partner_a, manager, submitted_at=past, approved_at=past + timedelta(hours=3))
    assert deal.status == DealStatus.APPROVED
    assert deal.imported
    assert deal.approved_at == past + timedelta(hours=3)
    assert deal.expires_on == date(2025, 12, 30)


def test_import_without_approval_is_approved_when_the_sla_would_have(
    partner_a, manager, now, long_standing
):
    past = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
    deal = register(partner_a, manager, submitted_at=past)
    assert deal.status == DealStatus.APPROVED
    assert deal.auto_approved
    assert deal.approved_at == past + timedelta(hours=48)


def test_import_on_a_customer_held_at_that_time_is_rejected(
    partner_a, partner_b, manager, now, long_standing
):
    past = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
    register(partner_a, manager, submitted_at=past, approved_at=past + timedelta(hours=1))
    later = register(partner_b, manager, submitted_at=past + timedelta(days=10))
    assert later.reason == "registered_by_another_partner"
    assert ConflictCase.objects.get(deal=later).status == "resolved"


def test_import_after_the_old_protection_lapsed_is_accepted(
    partner_a, partner_b, manager, now, long_standing
):
    past = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    first = register(partner_a, manager, submitted_at=past, approved_at=past + timedelta(hours=1))
    later = register(partner_b, manager, submitted_at=past + timedelta(days=120))
    assert later.status == DealStatus.APPROVED
    first.refresh_from_db()
    assert first.status == DealStatus.EXPIRED


def test_exited_partner_registers_nothing(partner_a, rep_a, now):
    partner_a.status = "exited"
    partner_a.save()
    with pytest.raises(services.DealError):
        register(partner_a, rep_a)


def test_conflict_escalation_notifies_the_chief_once(
    partner_a, partner_b, rep_a, rep_b, chief, now, queued_mail, django_capture_on_commit_callbacks
):
    register(partner_a, rep_a)
    register(partner_b, rep_b)
    now.move_to(T0 + timedelta(hours=25))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conflicts_escalate_overdue() == 1
        assert services.conflicts_escalate_overdue() == 0
    queued_mail()
    assert [m for m in mail.outbox if chief.email in m.to]


def test_poaching_escalates_to_termination_and_exits_the_partner(partner_a, manager, now):
    case = services.conflict_case_open(scenario="poaching", partner=partner_a, opened_by=manager)
    assert case.sla_due_at == T0
    for step in ("warning", "probation", "termination"):
        case = services.conflict_case_escalate(case=case, by=manager, reason="Took a customer")
        assert case.escalation_step == step
    partner_a.refresh_from_db()
    assert partner_a.status == "exited"
    assert partner_a.tier_changes.filter(cause="exit").exists()


def test_other_tiers_margin(partner_b, manager, now):
    rep = PartnerUserFactory(partner=partner_b).user
    partner_b.tier = default_tier("platinum")
    partner_b.save()
    deal = services.deal_approve(deal=register(partner_b, rep), by=manager)
    won = services.deal_win(deal=deal, by=manager, amount="1000", closed_on=T0.date())
    assert won.margin_rate == Decimal("0.3000")


def test_factory_partner_defaults_are_active_and_signed():
    partner = PartnerFactory()
    assert partner.status == "active" and partner.agreement_signed_on
