"""Browser test: a channel chief copies the program to a draft, raises a tier's reach by
lowering its floor, runs the what-if on the last closed quarter, sees the partner that
would move, and publishes the draft (Playwright + Debian's Chromium), in English and in
Chinese, at a laptop's width."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from deals.services import deal_accrue_incentives
from partners.models import Program, ProgramVersion, Tier
from prm.quarters import Quarter
from scoring.services.close import quarter_close
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    ScorecardFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)
from tests.test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

SHOTS = Path("/tmp/version-shots")


def _closed_quarter() -> str:
    """The last quarter closed, with a silver partner short of gold's floor."""
    last = Quarter.containing(timezone.localdate()).previous()
    partner = PartnerFactory(
        name="Near Gold Partners", tier=default_tier("silver"), started_on=date(2024, 1, 1)
    )
    for _ in range(2):
        CertificationFactory(
            partner=partner,
            user=PartnerUserFactory(partner=partner).user,
            issued_on=last.start,
        )
    deal_accrue_incentives(  # the first win earns its SPIFF, as every win does
        WonDealFactory(partner=partner, partner_credit=Decimal("150000"), closed_on=last.start)
    )
    ScorecardFactory(
        partner=partner, quarter=last.previous().label, qualified_tier=default_tier("gold")
    )
    PartnerFactory(
        name="Steady Partners", tier=default_tier("registered"), started_on=date(2024, 1, 1)
    )
    quarter_close(quarter=last.label)
    return last.label


def _shoot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    shot = SHOTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{name} is {overflow}px too wide"
    return shot


def test_a_chief_tries_a_draft_and_publishes_it(page, live_server):
    last = _closed_quarter()
    StaffFactory(username="cora", role="channel_chief")
    sign_in(page, live_server, "cora")
    page.goto(f"{live_server.url}/admin/partners/programversion/")
    _shoot(page, "versions-en")
    page.select_option(
        "[data-testid=version-copy] select", str(Program.objects.get(is_default=True).pk)
    )
    page.click("[data-testid=version-copy] button")
    page.wait_for_load_state()
    draft = ProgramVersion.objects.get(status="draft")
    assert page.url.endswith(f"/admin/partners/programversion/{draft.pk}/change/")

    gold = Tier.objects.get(program__is_default=True, slug="gold")
    page.fill(f"input[name=tier_{gold.pk}__revenue_floor]", "120000")
    page.fill("input[name=incentives__spiff_first_deal]", "1500")
    page.click("[data-testid=run-what-if]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=movers]") == "1"
    # The first win's $1,000 SPIFF would have been $1,500.
    assert page.inner_text("[data-testid=incentives-draft]") == "$1,500.00"
    mover = page.locator("[data-testid=what-if-row]").first
    assert "Near Gold Partners" in mover.inner_text()
    assert "Silver → Gold" in mover.inner_text()
    assert last in page.inner_text("[data-testid=version] h2 >> nth=0")
    _shoot(page, "what-if-en")

    # The same page in Chinese: the draft was saved with the what-if.
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )
    page.click("[data-testid=run-what-if]")
    page.wait_for_load_state()
    assert "运行假设分析" in page.inner_text("[data-testid=run-what-if]")
    assert page.inner_text("[data-testid=movers]") == "1"
    _shoot(page, "what-if-zh")

    upcoming = Quarter.containing(timezone.localdate()).next().label
    page.fill("input[name=effective_from]", upcoming)
    page.click("[data-testid=publish]")
    page.wait_for_load_state()
    draft.refresh_from_db()
    assert (draft.status, draft.effective_from) == ("published", upcoming)
    assert upcoming in page.inner_text(".messagelist")
    gold.refresh_from_db()
    assert gold.revenue_floor == Decimal("200000")  # live until its quarter is closed
