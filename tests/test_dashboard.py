"""The executive dashboard: each figure against a built scenario with known answers."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.urls import reverse

from deals.models import DealQuarter, SummarizedQuarter
from deals.services import (
    deal_lose,
    deal_quarter_summarize,
    deal_quarters_summarize,
    deal_reject,
    deal_win,
)
from enablement.models import LoginDay, TrainingCompletion
from incentives.models import LedgerEntry, MdfClaim, MdfFund
from partners.models import TierChange
from prm.quarters import Quarter
from scoring.dashboard import Filters, dashboard
from scoring.models import CompanyRevenue, QuarterClose
from tests.factories import (
    CertificationFactory,
    DealFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db

Q3 = Quarter(2026, 3)
TODAY = date(2026, 11, 24)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(datetime(2026, 11, 24, 9, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def scenario(manager, other_manager):
    """Two gold and three registered partners; known deals, scores and money in 2026Q3."""
    gold_a = PartnerFactory(
        tier=default_tier("gold"),
        channel_manager=manager,
        region="emea",
        started_on=date(2025, 1, 1),
    )
    gold_b = PartnerFactory(
        tier=default_tier("gold"),
        channel_manager=other_manager,
        region="americas",
        started_on=date(2025, 1, 1),
    )
    regs = [
        PartnerFactory(channel_manager=manager, region="emea", started_on=date(2025, 1, 1))
        for _ in range(3)
    ]
    new = PartnerFactory(channel_manager=manager, started_on=date(2026, 8, 1), status="onboarding")
    gone = PartnerFactory(status="exited", started_on=date(2025, 1, 1))
    TierChange.objects.create(
        partner=gone,
        from_tier=gone.tier,
        to_tier=gone.tier,
        cause="exit",
        quarter="2026Q3",
        changed_at=datetime(2026, 9, 30, 12, tzinfo=UTC),
    )
    # Q3 wins: 100k sourced (gold_a), 50k co-sell (gold_b, credit 15k), 20k direct (reg 0).
    WonDealFactory(partner=gold_a, amount=D("100000"), closed_on=date(2026, 8, 1))
    WonDealFactory(
        partner=gold_b,
        amount=D("50000"),
        partner_credit=D("15000"),
        compensation_model="co_sell",
        closed_on=date(2026, 9, 1),
    )
    WonDealFactory(
        partner=regs[0],
        amount=D("20000"),
        partner_credit=D("8000"),
        direct_conflict=True,
        closed_on=date(2026, 7, 15),
    )
    # Q2 win for growth: 61,500 → Q3 credit 123,000 is +100%.
    WonDealFactory(partner=gold_a, amount=D("61500"), closed_on=date(2026, 5, 1))
    # A loss in Q3, and an open registration (pipeline) submitted in Q3.
    DealFactory(partner=regs[1], status="lost", closed_on=date(2026, 8, 20))
    DealFactory(
        partner=regs[2],
        status="approved",
        amount=D("40000"),
        submitted_at=datetime(2026, 9, 1, tzinfo=UTC),
        expires_on=date(2026, 11, 30),
    )
    for partner, total in ((gold_a, D("85")), (gold_b, D("55")), (regs[0], D("30"))):
        ScorecardFactory(partner=partner, quarter="2026Q3", total=total)
    CertificationFactory(partner=gold_a, issued_on=date(2026, 7, 10), expires_on=date(2028, 7, 10))
    person = PartnerUserFactory(partner=gold_b).user
    LoginDay.objects.create(user=person, partner=gold_b, day=date(2026, 8, 3))
    TrainingCompletion.objects.create(
        user=person, partner=gold_b, course="Deep dive", completed_on=date(2026, 8, 4)
    )
    LedgerEntry.objects.create(
        partner=gold_a,
        kind="rebate",
        code="rebate",
        description="Rebate",
        amount=D("2000"),
        partner_amount=D("2000"),
        quarter="2026Q3",
        earned_on=date(2026, 9, 30),
        status="approved",
        idempotency_key="r1",
    )
    LedgerEntry.objects.create(
        partner=gold_a,
        kind="spiff",
        code="spiff_new_logo",
        description="SPIFF",
        amount=D("500"),
        partner_amount=D("500"),
        quarter="2026Q3",
        earned_on=date(2026, 8, 1),
        status="paid",
        paid_amount=D("500"),
        paid_at=datetime(2026, 9, 15, tzinfo=UTC),
        idempotency_key="s1",
    )
    MdfFundFactory(partner=gold_a, fiscal_year=2026, amount=D("8000"), reimbursed=D("2000"))
    CompanyRevenue.objects.create(quarter="2026Q3", amount=D("680000"))
    return {"gold_a": gold_a, "gold_b": gold_b, "regs": regs, "new": new, "gone": gone}


def figures(partners=None, filters=None):
    from partners.models import Partner

    filters = filters or Filters()
    return dashboard(
        filters.apply(partners or Partner.objects.all()), Q3, today=TODAY, currency="USD"
    )


@pytest.mark.parametrize("summarised", [False, True], ids=["from deals", "from summaries"])
def test_every_figure_against_the_scenario(scenario, summarised, manager, other_manager):
    if summarised:
        assert "2026Q3" in deal_quarters_summarize(today=TODAY)
    f = figures()
    e, r, h, en, i = f["ecosystem"], f["revenue"], f["health"], f["enablement"], f["incentives"]
    assert e["active_partners"] == 5
    assert e["onboarded"] == 1 and e["exited"] == 1
    assert e["retention_rate"] == D("0.833")  # 6 at the start, 1 exited
    assert r["partner_sourced_revenue"] == D("100000.00")
    assert r["partner_assisted_revenue"] == D("70000.00")  # co-sell 50k + direct 20k
    assert r["channel_share"] == D("0.250")  # 170k of 680k
    assert r["partner_credit"] == D("123000.00")
    assert r["qoq_growth"] == D("1.000")
    assert r["average_deal_size"] == D("56666.67")
    assert r["win_rate"] == D("0.750")  # 3 won, 1 lost
    assert r["win_rate_direct"] == D("1.000")
    assert r["pipeline"] == D("40000.00") and r["pipeline_deals"] == 1
    tiers = {row["tier"]: row for row in f["tiers"]}
    assert tiers["gold"]["partners"] == 2
    assert tiers["gold"]["revenue"] == D("115000.00")
    assert tiers["gold"]["quota"] == D("250000.00")  # 2 × 500k ÷ 4
    assert tiers["gold"]["attainment"] == D("0.460")
    assert tiers["registered"]["revenue"] == D("8000.00")
    assert (h["on_target"], h["at_risk"], h["off_target"]) == (1, 1, 1)
    assert en["certified_partners"] == 1 and en["new_certifications"] == 1
    assert en["training_completions"] == 1 and en["portal_engagement"] == D("0.200")
    assert i["spiffs_paid"] == D("500.00") and i["rebates_committed"] == D("2000.00")
    assert i["mdf_allocated"] == D("8000.00") and i["mdf_used_share"] == D("0.250")
    assert i["incentive_roi"] == D("49.2")  # 123,000 ÷ 2,500
    assert [p["id"] for p in f["top_partners"]] == [
        scenario["gold_a"].pk,
        scenario["gold_b"].pk,
        scenario["regs"][0].pk,
    ]
    program = f["program"]
    assert program["pyramid"]["registered_per_gold"] == D("1.5")  # 3 registered ÷ 2 gold
    # The top fifth of five active partners is one: gold_a, 161.5k of the year's 184.5k.
    assert program["concentration"]["top_partners"] == 1
    assert program["concentration"]["top_share"] == D("0.875")
    load = {row["username"]: row["partners"] for row in program["manager_load"]}
    assert (load[manager.username], load[other_manager.username]) == (4, 1)  # active only
    series = {row["quarter"]: row["credit"] for row in f["revenue_series"]}
    assert series["2026Q2"] == D("61500.00") and series["2026Q3"] == D("123000.00")


def live_figures(**kwargs):
    """The same figures computed from the deals, whatever is summarised."""
    from django.db import transaction

    with transaction.atomic():
        SummarizedQuarter.objects.all().delete()
        result = figures(**kwargs)
        transaction.set_rollback(True)
    return result


def test_summaries_give_the_figures_of_the_deals_under_every_filter(scenario, manager):
    # A partner whose only win falls in an earlier quarter of the year still counts in the
    # year's revenue concentration.
    WonDealFactory(partner=scenario["gone"], amount=D("90000"), closed_on=date(2026, 2, 1))
    deal_quarters_summarize(today=TODAY)
    concentration = figures()["program"]["concentration"]
    assert concentration["top_share"] == D("0.588")  # top 1 of 5: gold_a 161.5k of 274.5k
    assert DealQuarter.objects.get(quarter="2026Q3", partner=scenario["gone"]).won_deals == 0
    assert SummarizedQuarter.objects.filter(quarter__in=["2026Q2", "2026Q3"]).count() == 2
    for filters in (
        None,
        Filters(region="emea"),
        Filters(tier="gold"),
        Filters(manager=manager.pk),
    ):
        assert figures(filters=filters) == live_figures(filters=filters)


def test_later_wins_losses_and_rejections_keep_the_summary_true(scenario, manager):
    """A win recorded after the quarter was summarised, dated inside it, a loss and a
    rejection of registrations open at its end: the summary follows each."""
    submitted = datetime(2026, 9, 10, tzinfo=UTC)
    late_win, late_loss = (
        DealFactory(
            partner=scenario["regs"][1],
            status="approved",
            amount=D("30000"),
            submitted_at=submitted,
            expires_on=date(2026, 12, 9),
        )
        for _ in range(2)
    )
    pending = DealFactory(partner=scenario["gold_b"], amount=D("7000"), submitted_at=submitted)
    deal_quarters_summarize(today=TODAY)
    before = figures()
    assert before["revenue"]["pipeline_deals"] == 4
    deal_win(deal=late_win, by=manager, amount=D("30000"), closed_on=date(2026, 9, 28))
    deal_lose(deal=late_loss, by=manager, closed_on=date(2026, 9, 29))
    deal_reject(deal=pending, by=manager, reason="Duplicate of an older request")
    after = figures()
    assert after == live_figures()
    assert after["revenue"]["deals_won"] == before["revenue"]["deals_won"] + 1
    assert after["revenue"]["win_rate"] == D("0.667")  # 4 won, 2 lost
    assert after["revenue"]["pipeline_deals"] == 1


def test_summarising_is_idempotent_and_waits_for_the_quarter_to_end(scenario):
    from django.core.exceptions import ValidationError

    first = deal_quarter_summarize(quarter="2026Q3")
    rows = list(DealQuarter.objects.filter(quarter="2026Q3").values().order_by("partner_id"))
    again = deal_quarter_summarize(quarter="2026Q3")
    assert first.pk == again.pk and again.partners == len(rows) == 5
    assert [
        {k: v for k, v in row.items() if k != "id"}
        for row in DealQuarter.objects.filter(quarter="2026Q3").values().order_by("partner_id")
    ] == [{k: v for k, v in row.items() if k != "id"} for row in rows]
    with pytest.raises(ValidationError, match="not started"):
        deal_quarter_summarize(quarter="2027Q1")
    # The other seven ended quarters and the open one; then the open one alone, each night.
    assert len(deal_quarters_summarize(today=TODAY)) == 8
    assert deal_quarters_summarize(today=TODAY) == ["2026Q4"]


def test_the_nightly_task_summarises_ended_quarters(scenario):
    from deals.tasks import summarize_quarters

    labels = summarize_quarters()
    assert labels[-3:] == ["2026Q2", "2026Q3", "2026Q4"] and len(labels) == 9  # oldest first
    assert summarize_quarters() == ["2026Q4"]


def open_quarter(partners=None):
    from partners.models import Partner

    return dashboard(Partner.objects.all(), Quarter(2026, 4), today=TODAY, currency="USD")


def test_the_open_quarter_is_read_from_sums_written_today_and_kept_by_registrations(
    scenario, manager
):
    from deals.services import deal_register

    partner = scenario["regs"][2]
    DealFactory(partner=partner, status="won", closed_on=date(2026, 10, 5), partner_credit=D("9"))
    deal_quarters_summarize(today=TODAY)
    summed = open_quarter()
    assert summed == live_open_quarter()
    assert summed["revenue"]["partner_credit"] == D("9.00")
    assert summed["revenue"]["pipeline_deals"] == 1
    registered = deal_register(
        partner=partner,
        submitted_by=None,
        customer_name="Fresh Customer",
        customer_domain="fresh-customer.example",
        amount=D("12000"),
        expected_close=date(2027, 1, 15),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    after = open_quarter()
    assert after["revenue"]["pipeline_deals"] == 2 and after == live_open_quarter()
    deal_win(deal=registered, by=manager, amount=D("12000"), closed_on=TODAY)
    assert open_quarter() == live_open_quarter()
    # Written yesterday: the pipeline it counted may have lapsed since; not read.
    SummarizedQuarter.objects.filter(quarter="2026Q4").update(as_of=date(2026, 11, 23))
    DealQuarter.objects.filter(quarter="2026Q4").update(won_credit=D("1"))
    assert open_quarter() == live_open_quarter()


def live_open_quarter():
    from django.db import transaction

    with transaction.atomic():
        SummarizedQuarter.objects.filter(quarter="2026Q4").delete()
        result = open_quarter()
        transaction.set_rollback(True)
    return result


def test_filters_narrow_every_figure(scenario, manager):
    emea = figures(filters=Filters(region="emea"))
    assert emea["ecosystem"]["active_partners"] == 4
    assert emea["revenue"]["partner_credit"] == D("108000.00")
    gold = figures(filters=Filters(tier="gold"))
    assert gold["ecosystem"]["active_partners"] == 2
    mine = figures(filters=Filters(manager=manager.pk))
    assert scenario["gold_b"].pk not in [p["id"] for p in mine["top_partners"]]


def test_the_api_for_executives_and_managers(api, executive, manager, a_admin, scenario):
    body = api(executive).get("/api/v1/dashboard/?quarter=2026Q3").json()
    assert body["revenue"]["partner_sourced_revenue"] == "100000.00"
    assert body["ecosystem"]["active_partners"] >= 5
    assert "channel_share" in body["definitions"]
    mine = api(manager).get("/api/v1/dashboard/?quarter=2026Q3").json()
    assert scenario["gold_b"].pk not in [p["id"] for p in mine["top_partners"]]
    assert api(a_admin).get("/api/v1/dashboard/").status_code == 403
    for bad in ("quarter=2026Q5", "quarter=soon", "manager=abc", "region=mars"):
        response = api(executive).get(f"/api/v1/dashboard/?{bad}")
        assert response.status_code == 400, bad


def test_the_page_exports_and_drills_down(client, executive, scenario):
    client.force_login(executive)
    page = client.get(reverse("executive-home") + "?quarter=2026Q3").content.decode()
    assert "Program dashboard" in page and "$100K" in page
    assert f'href="{reverse("manager-home")}?tier=gold"' in page
    exported = client.get(reverse("executive-export", args=["tiers"]) + "?quarter=2026Q3")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert {row["tier"] for row in rows} >= {"gold", "registered"}
    assert client.get(reverse("executive-export", args=["nope"])).status_code == 404
    drilled = client.get(reverse("manager-home") + "?tier=gold").content.decode()
    assert scenario["gold_a"].name in drilled and scenario["regs"][0].name not in drilled


def test_partners_cannot_open_the_dashboard_page(client, a_admin):
    client.force_login(a_admin)
    assert client.get(reverse("executive-home")).status_code == 403


def test_dashboard_query_count_does_not_grow(api, executive, django_assert_max_num_queries):
    def book(n):
        for _ in range(n):
            partner = PartnerFactory(region="apac")
            WonDealFactory(partner=partner, closed_on=date(2026, 8, 1))
            ScorecardFactory(partner=partner, quarter="2026Q3")
            StaffFactory()

    book(2)
    with django_assert_max_num_queries(30) as few:
        api(executive).get("/api/v1/dashboard/?quarter=2026Q3")
    book(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(executive).get("/api/v1/dashboard/?quarter=2026Q3").status_code == 200
    deal_quarters_summarize(today=TODAY)
    book(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(executive).get("/api/v1/dashboard/?quarter=2026Q3").status_code == 200


def test_the_manager_view_lists_what_is_waiting(client, manager, partner_a, partner_b, a_admin):
    from incentives.services.claims import claim_submit
    from partners.models import RedFlag
    from tests.factories import LedgerEntryFactory

    DealFactory(partner=partner_a)  # pending: awaiting approval
    DealFactory(partner=partner_b)  # another manager's partner
    claim_submit(
        partner=partner_a, entry_ids=[LedgerEntryFactory(partner=partner_a).pk], by=a_admin
    )
    RedFlag.objects.create(partner=partner_a, kind="low_csat")
    client.force_login(manager)
    response = client.get(reverse("manager-home"))
    page = response.content.decode()
    assert response.context["totals"] == {"pending": 1, "claims": 1, "mdf": 0, "flags": 1}
    row = page[page.index(f'data-testid="todo-{partner_a.pk}"') :][:600]
    assert "1 to approve" in row and "1 claim" in row
    assert f'data-testid="todo-{partner_b.pk}"' not in page


def test_the_dashboard_speaks_simplified_chinese(client, executive, scenario):
    client.force_login(executive)
    switched = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("executive-home")}
    )
    assert switched.status_code == 302
    page = client.get(reverse("executive-home") + "?quarter=2026Q3").content.decode()
    assert "计划仪表板" in page and "活跃合作伙伴" in page and "合作伙伴计入收入" in page
    assert 'lang="zh-hans"' in page
    body = client.get("/api/v1/dashboard/?quarter=2026Q3").json()
    assert body["definitions"]["certified_partners"].startswith("季度末")


def test_every_catalogued_string_has_its_translation():
    import re
    from pathlib import Path

    po = Path(__file__).resolve().parent.parent / "locale/zh_Hans/LC_MESSAGES/django.po"
    entries = re.findall(r'msgid "(.+)"\nmsgstr "(.*)"', po.read_text(encoding="utf-8"))
    assert entries
    assert [msgid for msgid, msgstr in entries if not msgstr] == []


def test_the_board_report_prints_and_renders_as_pdf(client, executive, scenario):
    client.force_login(executive)
    url = reverse("executive-export", args=["report"]) + "?quarter=2026Q3"
    html = client.get(url).content.decode()
    assert "Partner program board report" in html and "$100,000" in html
    pdf = client.get(url + "&format=pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 5_000


def test_a_quarter_without_scorecards_says_so_instead_of_an_empty_chart(
    client, executive, scenario
):
    client.force_login(executive)
    unscored = client.get(reverse("executive-home") + "?quarter=2026Q4").content.decode()
    assert 'data-testid="health-unscored"' in unscored and 'id="health-chart"' not in unscored
    scored = client.get(reverse("executive-home") + "?quarter=2026Q3").content.decode()
    assert 'id="health-chart"' in scored and "health-unscored" not in scored


# ---------------------------------------------------------------- figures read without being misled


def test_mdf_return_is_two_figures_each_with_its_label(client, api, executive, scenario):
    gold_a = scenario["gold_a"]
    fund = MdfFund.objects.get(partner=gold_a, fiscal_year=2026)
    MdfFund.objects.filter(pk=fund.pk).update(reserved=D("500"))  # used: 2,000 + 500
    activity = MdfRequestFactory(fund=fund, status="approved")
    DealFactory(partner=gold_a, mdf_request=activity, amount=D("30000"))
    WonDealFactory(partner=gold_a, mdf_request=activity, amount=D("10000"))
    # An activity of the year before: its deals count for that year's MDF, not this one's.
    older = MdfRequestFactory(
        fund=MdfFundFactory(partner=gold_a, fiscal_year=2025), status="reimbursed"
    )
    DealFactory(partner=gold_a, mdf_request=older, amount=D("99000"))
    # What the older single figure divides by: approved claims only, of any year.
    for request, status, paid in ((activity, "approved", "3000"), (older, "rejected", "9000")):
        MdfClaim.objects.create(
            request=request,
            partner=gold_a,
            actual_cost=D(paid),
            leads_generated=1,
            status=status,
            reimbursement=D(paid),
        )
    i = figures()["incentives"]
    assert i["mdf_roi"] == D("46.3")  # (129,000 pipeline + 10,000 won) ÷ 3,000
    assert (i["mdf_used"], i["mdf_reimbursed"], i["mdf_reserved"]) == (
        D("2500.00"),
        D("2000.00"),
        D("500.00"),
    )
    assert (i["mdf_year_pipeline"], i["mdf_year_revenue"]) == (D("30000.00"), D("10000.00"))
    assert i["mdf_pipeline_return"] == D("12.0")  # 30,000 ÷ 2,500
    assert i["mdf_revenue_return"] == D("4.0")  # 10,000 ÷ 2,500

    body = api(executive).get("/api/v1/dashboard/?quarter=2026Q3").json()["incentives"]
    assert (body["mdf_pipeline_return"], body["mdf_revenue_return"]) == ("12.0", "4.0")
    assert "mdf_roi" in body and body["mdf_pipeline"] == "129000.00"  # kept for older clients

    client.force_login(executive)
    page = client.get(reverse("executive-home") + "?quarter=2026Q3").content.decode()
    card = page[page.index('data-testid="mdf-return"') :][:900]
    assert "Pipeline sourced ÷ MDF used 12.0×" in card
    assert "Revenue won ÷ MDF used 4.0×" in card
    assert "plus still reserved by approved activities" in page  # what MDF used is
    assert ">ROI " not in page
    report = client.get(reverse("executive-export", args=["report"]) + "?quarter=2026Q3")
    html = report.content.decode()
    assert "Pipeline sourced ÷ MDF used" in html and "12.0×" in html and "4.0×" in html


@pytest.mark.parametrize("summarised", [False, True], ids=["from deals", "from summaries"])
def test_the_open_quarter_grows_against_as_many_days_of_the_quarter_before(scenario, summarised):
    # 24 Nov is day 55 of 2026Q4; day 55 of 2026Q3 is 24 Aug: the 100k of 1 Aug and the
    # 8k of 15 Jul count, the 15k of 1 Sep not yet.
    WonDealFactory(partner=scenario["gold_a"], amount=D("54000"), closed_on=date(2026, 11, 1))
    if summarised:
        deal_quarters_summarize(today=TODAY)
    f = open_quarter()
    r = f["revenue"]
    assert f["to_date"] is True and r["to_date"] is True
    assert (r["previous_quarter"], r["previous_through"]) == ("2026Q3", date(2026, 8, 24))
    assert r["previous_credit"] == D("108000.00")
    assert r["qoq_growth"] == D("-0.500")  # not −0.561 against the whole of 2026Q3
    assert [row["quarter"] for row in f["revenue_series"] if row["to_date"]] == ["2026Q4"]
    closed = figures()
    assert closed["to_date"] is False and closed["revenue"]["previous_credit"] == D("61500.00")


def test_the_open_quarter_is_labelled_to_date(client, api, executive, scenario):
    WonDealFactory(partner=scenario["gold_a"], amount=D("54000"), closed_on=date(2026, 11, 1))
    client.force_login(executive)
    page = client.get(reverse("executive-home")).content.decode()
    assert "2026Q4 to date" in page
    assert "against 2026Q3 to 24 Aug" in page
    past = client.get(reverse("executive-home") + "?quarter=2026Q3").content.decode()
    assert "2026Q3 to date" not in past and 'data-testid="growth-basis"' not in past
    report = client.get(reverse("executive-export", args=["report"])).content.decode()
    assert "2026Q4 to date" in report and "against 2026Q3 to 24 Aug" in report
    body = api(executive).get("/api/v1/dashboard/").json()
    assert body["to_date"] is True and body["revenue"]["previous_through"] == "2026-08-24"
    assert body["revenue"]["qoq_growth"] == "-0.500"


def test_health_and_channel_share_fall_back_to_the_last_close_labelled(
    client, api, executive, scenario
):
    QuarterClose.objects.create(quarter="2026Q3", state="done")
    QuarterClose.objects.create(quarter="2026Q2", state="done")
    f = open_quarter()
    h, r = f["health"], f["revenue"]
    assert h["scored"] == 0  # the quarter's own figures stay what they are
    assert h["last_close"] == {
        "quarter": "2026Q3",
        "on_target": 1,
        "at_risk": 1,
        "off_target": 1,
        "scored": 3,
    }
    assert r["channel_share"] is None
    assert r["channel_share_last_close"] == {
        "quarter": "2026Q3",
        "channel_share": D("0.250"),  # 170k of 680k
        "channel_revenue": D("170000.00"),
        "company_revenue": D("680000.00"),
    }
    client.force_login(executive)
    page = client.get(reverse("executive-home") + "?quarter=2026Q4").content.decode()
    badge = page[page.index('data-testid="health-last-close"') :][:80]
    assert "From the 2026Q3 close" in badge and 'id="health-chart"' in page
    share = page[page.index('data-testid="channel-share-last-close"') :][:300]
    assert "25.0%" in share and "From the 2026Q3 close" in share
    assert "company revenue not entered" not in page
    report = client.get(reverse("executive-export", args=["report"]) + "?quarter=2026Q4")
    html = report.content.decode()
    assert 'data-testid="report-health-last-close"' in html
    assert 'data-testid="report-channel-last-close"' in html
    assert html.count("From the 2026Q3 close") == 2
    body = api(executive).get("/api/v1/dashboard/?quarter=2026Q4").json()
    assert body["health"]["last_close"]["quarter"] == "2026Q3"
    assert body["revenue"]["channel_share_last_close"]["channel_share"] == "0.250"


def test_a_quarter_with_its_own_figures_does_not_fall_back(scenario):
    QuarterClose.objects.create(quarter="2026Q2", state="done")
    QuarterClose.objects.create(quarter="2026Q3", state="done")
    f = figures()
    assert f["health"]["last_close"] is None
    assert f["revenue"]["channel_share_last_close"] is None


def test_the_open_quarter_query_count_does_not_grow(api, executive, django_assert_max_num_queries):
    QuarterClose.objects.create(quarter="2026Q3", state="done")
    CompanyRevenue.objects.create(quarter="2026Q3", amount=D("680000"))

    def book(n):
        for _ in range(n):
            partner = PartnerFactory(region="apac")
            WonDealFactory(partner=partner, closed_on=date(2026, 8, 1))
            WonDealFactory(partner=partner, closed_on=date(2026, 11, 2))
            ScorecardFactory(partner=partner, quarter="2026Q3")

    book(2)
    with django_assert_max_num_queries(36) as few:
        body = api(executive).get("/api/v1/dashboard/").json()
    assert body["health"]["last_close"]["scored"] == 2 and body["to_date"] is True
    book(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api(executive).get("/api/v1/dashboard/").status_code == 200
