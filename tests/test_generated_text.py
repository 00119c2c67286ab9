"""Text the code composes — ledger descriptions, an MDF fund's basis, a tier's benefits —
is kept as its source and values and shown in the reader's language, in pages, the API
and exports; what was stored before as text shows as it was."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from deals import services as deal_services
from incentives import rules
from incentives.models import LedgerEntry, MdfFund
from incentives.queries import ledger_csv
from scoring.services.close import quarter_close
from tests.factories import (
    LedgerEntryFactory,
    MdfFundFactory,
    PartnerFactory,
    ProductFactory,
    WonDealFactory,
    default_tier,
)
from tests.test_incentives import MONDAY, approved_deal

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


def test_the_rules_keep_each_descriptions_source_and_values():
    (accrual,) = rules.deal_incentives(
        rules.WonDeal(
            amount=D("50000"),
            partner_credit=D("50000"),
            deal_type="new_logo",
            days_to_win=10,
            strategic=False,
            first_win=False,
        ),
        rules.DealIncentiveTable(),
    )
    assert accrual.description == "New logo won within 60 days of registration"
    assert accrual.message == "New logo won within %(days)s days of registration"
    assert accrual.params == {"days": "60"}


def test_a_wins_spiffs_read_in_chinese_on_the_earnings_page_and_the_api(
    client, api, monday, partner_a, a_admin, manager
):
    deal = approved_deal(partner_a, days_ago=45, amount=D("150000"))
    deal.products.set([ProductFactory(strategic=True)])
    deal_services.deal_win(deal=deal, by=manager, amount="150000", closed_on=date(2026, 11, 23))
    large = LedgerEntry.objects.get(partner=partner_a, code="spiff_large_deal")
    assert large.description == "Deal over 100,000: 2.0% of the amount"  # as before
    client.force_login(a_admin)
    page = client.get(reverse("portal-earnings"), **ZH).content.decode()
    assert "商机金额超过 100,000：金额的 2.0%" in page
    assert "战略产品线" in page and "Strategic product line" not in page
    english = client.get(reverse("portal-earnings")).content.decode()
    assert "Deal over 100,000: 2.0% of the amount" in english
    listed = api(a_admin).get("/api/v1/ledger/", **ZH).json()["results"]
    assert "合作伙伴首次赢单" in {row["description"] for row in listed}
    notice = partner_a.notices.get(kind="earnings")
    assert "5,250.00" in notice.text  # the notice of the win, in English as stored…
    with translation.override("zh-hans"):
        assert "赢得 USD 5,250.00 的 SPIFF 和奖金" in notice.shown_text  # …read in Chinese


def test_the_close_writes_rebates_awards_and_fund_bases_for_each_language(monday, manager):
    big = PartnerFactory(tier=default_tier("gold"), channel_manager=manager)
    WonDealFactory(
        partner=big,
        amount=D("300000"),
        deal_type="new_logo",
        submitted_at=datetime(2026, 7, 1, tzinfo=UTC),
        closed_on=date(2026, 8, 15),
    )
    quarter_close(quarter="2026Q3", notify=False)
    rebate = LedgerEntry.objects.get(partner=big, kind="rebate")
    award = LedgerEntry.objects.get(partner=big, code="award_top_new_logo")
    fund = MdfFund.objects.get(partner=big, fiscal_year=2026)
    assert rebate.description.startswith("Volume rebate 2026Q3: 3.5% of 300,000.00")
    assert award.description == "Top New Logo Generator 2026Q3: 1 new logos won"
    assert fund.basis == "Gold: 4% of 300,000.00 prior-year revenue"
    with translation.override("zh-hans"):
        assert rebate.shown_description.startswith("2026Q3 销量返利：300,000.00 的 3.5%")
        assert award.shown_description == "最佳新客户开拓奖 2026Q3：赢得 1 个新客户"
        assert fund.shown_basis == "Gold：上一年收入 300,000.00 的 4%"
    with translation.override("en"):
        assert award.shown_description == award.description
        assert fund.shown_basis == fund.basis


def test_an_entry_or_fund_from_before_shows_its_stored_text(client, partner_a, a_admin):
    LedgerEntryFactory(partner=partner_a, description="Typed long ago")
    MdfFundFactory(partner=partner_a, basis="Agreed at the kick-off")
    with translation.override("zh-hans"):
        assert LedgerEntry.objects.get().shown_description == "Typed long ago"
        assert MdfFund.objects.get().shown_basis == "Agreed at the kick-off"
    client.force_login(a_admin)
    assert "Agreed at the kick-off" in client.get(reverse("portal-mdf"), **ZH).content.decode()


def test_the_mdf_page_and_api_show_the_basis_in_the_readers_language(
    client, api, partner_a, a_admin
):
    MdfFundFactory(
        partner=partner_a,
        basis="Silver: 2% of 500,000.00 prior-year revenue",
        basis_message="%(tier)s: %(rate)s of %(revenue)s prior-year revenue",
        basis_params={"tier": "Silver", "rate": "2%", "revenue": {"amount": "500000"}},
    )
    client.force_login(a_admin)
    page = client.get(reverse("portal-mdf"), **ZH).content.decode()
    assert "Silver：上一年收入 500,000.00 的 2%" in page
    (fund,) = api(a_admin).get("/api/v1/mdf/funds/", **ZH).json()["results"]
    assert fund["basis"] == "Silver：上一年收入 500,000.00 的 2%"
    (fund,) = api(a_admin).get("/api/v1/mdf/funds/").json()["results"]
    assert fund["basis"] == "Silver: 2% of 500,000.00 prior-year revenue"


def test_the_payment_export_is_in_the_exporters_language(partner_a):
    LedgerEntryFactory(
        partner=partner_a,
        description="Strategic product line",
        description_message="Strategic product line",
    )
    with translation.override("zh-hans"):
        assert "战略产品线" in ledger_csv(LedgerEntry.objects.all())
    with translation.override("en"):
        assert "Strategic product line" in ledger_csv(LedgerEntry.objects.all())


def test_the_benefits_checklist_and_support_read_in_chinese(client, partner_a, a_admin):
    client.force_login(a_admin)
    page = client.get(reverse("portal-home"), **ZH).content.decode()
    assert "20% 经销利润率" in page and "专属客户成功经理" in page
    assert "reseller margin" not in page and "Dedicated customer success manager" not in page
    english = client.get(reverse("portal-home")).content.decode()
    assert "20% reseller margin" in english


def test_a_benefit_a_manager_typed_shows_as_typed(partner_a):
    tier = partner_a.tier
    tier.benefits = "Free coffee at the summit\nQuarterly business review"
    with translation.override("zh-hans"):
        assert tier.benefit_lines == ["Free coffee at the summit", "季度业务回顾"]
