"""Browser test: a partner reads its scorecard's explanation and disputes it; its channel
manager answers in the admin; the partner reads the answer. The scorecards page at a
laptop's and a phone's width, in English and Chinese (screenshots in /tmp/disputes-*.png)."""

from decimal import Decimal

import pytest

from partners.models import PartnerRole
from scoring.models import ScorecardDispute
from tests.factories import (
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    StaffFactory,
    default_tier,
)
from tests.test_browser_layout import LAPTOP, MEASURE, PHONE, signed_in_context

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

INPUTS = {
    "quarter_revenue": "412300.00",
    "quarterly_quota": "500000.00",
    "approved_registrations": 4,
    "pipeline_target": 5,
    "certified_reps": 2,
    "reps_required": 3,
    "csat_responses": 0,
    "csat_average": None,
    "login_days": 9,
    "trainings": 1,
    "events": 2,
}


def test_partner_disputes_a_scorecard_and_reads_the_answer(browser, live_server):
    manager = StaffFactory(username="nina", role="channel_manager", first_name="Nina")
    partner = PartnerFactory(
        name="Juliet Systems International",
        domain="juliet.example",
        tier=default_tier("silver"),
        channel_manager=manager,
    )
    admin = PartnerUserFactory(
        partner=partner, role=PartnerRole.ADMIN, user__username="jules", user__first_name="Jules"
    ).user
    ScorecardFactory(
        partner=partner,
        quarter="2026Q2",
        inputs=INPUTS,
        revenue=Decimal("24.74"),
        pipeline=Decimal("16.00"),
        certification=Decimal("10.00"),
        satisfaction=Decimal("0.00"),
        engagement=Decimal("10.42"),
        total=Decimal("61.16"),
        band="grow",
        csat_no_data=True,
    )

    context = signed_in_context(browser, live_server, admin, LAPTOP, "en")
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/scorecards/")
    revenue = page.text_content("[data-testid=dimension-revenue]")
    assert "$412,300.00 of a $500,000.00 quarterly quota → 30 × 0.8246 = 24.74 of 30" in revenue
    assert "No data" in page.text_content("[data-testid=dimension-satisfaction]")
    assert "Events attended: 2 of 1" in page.text_content("[data-testid=dimension-engagement]")

    page.click("text=Dispute this scorecard")
    page.click("text=Send the dispute")  # empty: refused, said why
    assert "Say why you dispute" in page.text_content("[data-testid=dispute-error]")
    page.fill("textarea[name=reason]", "Two deals approved on 28 June are not counted.")
    page.click("text=Send the dispute")
    page.wait_for_selector("[data-testid=dispute]")
    assert "Two deals approved on 28 June" in page.text_content("[data-testid=dispute]")
    context.close()

    context = signed_in_context(browser, live_server, manager, LAPTOP, "en")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/scoring/scorecarddispute/")
    page.click("#result_list >> text=Juliet Systems International")
    page.wait_for_selector("textarea[name=answer]")
    page.screenshot(path="/tmp/disputes-admin-answer-1366-en.png", full_page=True)
    assert "4 approved registrations of 5" in page.text_content("#content")
    page.fill("textarea[name=answer]", "They were approved on 2 July, in the next quarter.")
    page.click("input[name=_save]")
    page.wait_for_url(f"{live_server.url}/admin/scoring/scorecarddispute/")
    assert ScorecardDispute.objects.get().status == "answered"
    context.close()

    for language in ("en", "zh-hans"):
        for name, viewport in (("1366", LAPTOP), ("390", PHONE)):
            context = signed_in_context(browser, live_server, admin, viewport, language)
            page = context.new_page()
            page.goto(f"{live_server.url}/portal/scorecards/")
            answer = page.text_content("[data-testid=answer]")
            assert "approved on 2 July" in answer
            page.screenshot(path=f"/tmp/disputes-scorecards-{name}-{language}.png", full_page=True)
            measured = page.evaluate(MEASURE)
            assert measured["overflow"] <= 0 and not measured["clipped"], (name, measured)
            if language == "zh-hans":
                assert "合计：10.42 / 15" in page.text_content("[data-testid=dimension-engagement]")
            context.close()
