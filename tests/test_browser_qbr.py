"""Browser test: a channel manager opens a partner's QBR in the admin and its printable page
(Playwright + Debian's Chromium)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from prm.quarters import Quarter
from scoring.services.reviews import jbp_save, qbr_action_item_add, qbr_schedule
from tests.factories import (
    DealFactory,
    MdfFundFactory,
    MdfRequestFactory,
    PartnerFactory,
    RedFlagFactory,
    ScorecardFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)
from tests.test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]


def test_manager_opens_the_printable_qbr(page, live_server, tmp_path):
    today = timezone.localdate()
    quarter = Quarter.containing(today)
    reviewed = quarter.previous()
    manager = StaffFactory(username="nina", role="channel_manager")
    partner = PartnerFactory(
        name="Hotel Partners",
        domain="hotel.example",
        tier=default_tier("silver"),
        channel_manager=manager,
    )
    ScorecardFactory(
        partner=partner,
        quarter=reviewed.label,
        revenue=Decimal("21.5"),
        pipeline=Decimal("16"),
        certification=Decimal("0"),
        satisfaction=Decimal("17"),
        engagement=Decimal("10"),
        total=Decimal("64.5"),
        band="grow",
    )
    ScorecardFactory(partner=partner, quarter=reviewed.previous().label)
    DealFactory(partner=partner, customer_name="Initech", amount=Decimal("42000"))
    WonDealFactory(
        partner=partner,
        customer_name="Hooli",
        amount=Decimal("61000"),
        partner_credit=Decimal("61000"),
        closed_on=reviewed.start + timedelta(days=20),
    )
    RedFlagFactory(partner=partner, kind="no_recent_deal")
    MdfRequestFactory(
        fund=MdfFundFactory(partner=partner),
        title="Joint webinar",
        starts_on=quarter.end - timedelta(days=3),
        ends_on=quarter.end - timedelta(days=3),
    )
    jbp_save(
        partner=partner,
        fiscal_year=quarter.year,
        revenue_goal="250000",
        target_accounts="Initech\nUmbrella",
        by=manager,
    )
    qbr = qbr_schedule(
        partner=partner, quarter=quarter.label, scheduled_for=quarter.end, by=manager
    )
    qbr_action_item_add(qbr=qbr, by=manager, text="Certify a second rep")

    sign_in(page, live_server, "nina")  # with her authenticator app's code
    page.wait_for_url(f"{live_server.url}/manager/")
    page.goto(f"{live_server.url}/admin/scoring/qbr/")
    page.click("#result_list >> text=Hotel Partners")
    page.wait_for_selector("[data-testid=print-link]")
    assert "Pipeline walk" in page.text_content("[data-testid=section-pipeline]")
    page.click("[data-testid=print-link]")
    page.wait_for_url(f"{live_server.url}/qbrs/{qbr.pk}/print/")

    assert f"Quarterly business review {quarter.label}" in page.text_content("h1")
    assert page.text_content("[data-testid=score-total]") == "64.50"
    assert "Initech" in page.text_content("[data-testid=section-pipeline]")
    assert "Hooli" in page.text_content("[data-testid=section-win-loss]")
    assert "No recent deal" in page.text_content("[data-testid=section-escalations]")
    assert "Joint webinar" in page.text_content("[data-testid=section-co-marketing]")
    assert "of a $250,000 goal" in page.text_content("[data-testid=plan-progress]")
    assert "Certify a second rep" in page.text_content("[data-testid=section-actions]")

    shot = tmp_path / "qbr-print.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    response = page.request.get(f"{live_server.url}/qbrs/{qbr.pk}/pdf/")
    assert response.ok and response.body().startswith(b"%PDF")
