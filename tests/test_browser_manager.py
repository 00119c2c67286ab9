"""Browser tests of the manager workspace: the deal review panel on a probable duplicate,
and the partner 360 page with its notes (Playwright + Debian's Chromium), at a laptop's
and a phone's width, in English and in Chinese."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from partners.models import ManagerNote, PartnerRole
from tests.factories import (
    LeadFactory,
    LedgerEntryFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffFactory,
    WonDealFactory,
)
from tests.test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

SHOTS = Path("/tmp/manager-shots")
WIDTHS = {"wide": 1366, "phone": 390}


def _register(partner, name, domain, amount):
    from deals.services import deal_register

    return deal_register(
        partner=partner,
        submitted_by=PartnerUserFactory(partner=partner).user,
        customer_name=name,
        customer_domain=domain,
        amount=amount,
        expected_close=timezone.localdate() + timedelta(days=30),
        deal_type="new_logo",
        compensation_model="reseller",
    )


def _shoot(page, name: str) -> None:
    """The page at both widths, full length; the caller looks at the files."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        shot = SHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        # Nothing wider than the screen: the page scrolls down, never sideways.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e =>"
            " e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        assert overflow <= 1, f"{name} at {width}px is {overflow}px too wide: {wide}"
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})


def _chinese(page, live_server) -> None:
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )


def test_a_manager_reviews_a_probable_duplicate_in_the_decision_panel(page, live_server):
    manager = StaffFactory(username="mona", role="channel_manager")
    ours = PartnerFactory(name="Delta Partners", domain="delta.example", channel_manager=manager)
    theirs = PartnerFactory(name="Echo Partners", domain="echo.example")
    first = _register(theirs, "Globex Corporation", "globex.com", "5000")
    LeadFactory(company_name="Globex Corporation", domain="globex.com", account=first.account)
    held = _register(ours, "Globex GmbH", "globex.de", "21235.79")
    assert held.needs_review

    sign_in(page, live_server, "mona")
    page.goto(f"{live_server.url}/admin/deals/deal/")
    first_row = page.text_content("#result_list tbody tr:first-child")
    assert "Globex GmbH" in first_row and "$21,235.79" in first_row  # the queue leads with it
    page.click("#result_list tbody tr:first-child th a")
    page.wait_for_selector("[data-testid=decision-panel]")
    match = page.text_content("[data-testid=decision-match]")
    assert "Echo Partners" in match and "globex.com" in match
    assert "Echo Partners" in page.text_content("[data-testid=decision-others]")
    assert "Globex Corporation" in page.text_content("[data-testid=decision-leads]")
    assert "Probable same customer" in page.text_content("[data-testid=decision-rules]")
    _shoot(page, "deal-review-en")

    _chinese(page, live_server)
    page.reload()
    page.wait_for_selector("[data-testid=decision-panel]")
    assert "可能是同一客户" in page.text_content("[data-testid=decision-panel]")
    _shoot(page, "deal-review-zh")

    page.fill("[data-testid=decision-actions] textarea", "Same group, German subsidiary.")
    page.click("[data-testid=decision-actions] form:nth-child(2) input[type=submit]")
    page.wait_for_selector(".messagelist")
    held.refresh_from_db()
    assert (held.status, held.reason) == ("rejected", "registered_by_another_partner")
    assert page.query_selector("[data-testid=decision-actions]") is None  # decided: no buttons


def test_a_manager_reads_the_partner_360_page_and_adds_a_note(page, live_server):
    manager = StaffFactory(username="milo", role="channel_manager")
    partner = PartnerFactory(
        name="Foxtrot Partners", domain="foxtrot.example", channel_manager=manager
    )
    PartnerUserFactory(
        partner=partner,
        role=PartnerRole.ADMIN,
        user__username="fay",
        user__first_name="Fay",
        user__last_name="Ng",
    )
    WonDealFactory(partner=partner, customer_name="Initech", amount=Decimal("21235.79"))
    _register(partner, "Umbrella Corp", "umbrella.example", "48000")
    LedgerEntryFactory(partner=partner, amount=Decimal("750"))

    sign_in(page, live_server, "milo")
    page.goto(f"{live_server.url}/manager/")
    page.click("text=Foxtrot Partners")
    page.wait_for_selector("[data-testid=p360-header]")
    assert "Umbrella Corp" in page.text_content("[data-testid=p360-open-deals]")
    assert "$21,235.79" in page.text_content("[data-testid=p360-recent-deals]")
    assert "Fay Ng" in page.text_content("[data-testid=p360-contacts]")

    page.click("[data-testid=note-form] button[type=submit]")  # empty: refused with a message
    assert "Write the note before adding it." in page.text_content("[data-testid=note-error]")
    page.fill("[data-testid=note-form] textarea", "Fay wants a joint webinar in Q1.")
    page.click("[data-testid=note-form] button[type=submit]")
    page.wait_for_selector("text=Note added.")
    assert "Fay wants a joint webinar in Q1." in page.text_content("[data-testid=p360-notes]")
    assert ManagerNote.objects.filter(partner=partner, author=manager).count() == 1
    _shoot(page, "partner-360-en")

    _chinese(page, live_server)
    page.reload()
    page.wait_for_selector("[data-testid=p360-header]")
    assert "备注时间线" in page.text_content("[data-testid=p360-notes]")
    _shoot(page, "partner-360-zh")
