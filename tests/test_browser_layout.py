"""The portal's layout at a phone's width (390 px) and a laptop's (1366 px), in English and
Chinese, for each role: no page is wider than the screen, and at 1366 px the navigation bar
stays on one line. Screenshots go to /tmp/layout-*.png for a person to look at."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from partners.models import Notice, PartnerRole
from prm.roles import Role
from tests.factories import (
    DealFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
LANGUAGES = ("en", "zh-hans")

# Measured in the page: the width it takes beyond the screen's, whether the navigation
# bar's items share one line, and elements outside a sideways-scrolling table that reach
# past the screen's right edge.
MEASURE = """() => {
  const bar = document.querySelector('nav.navbar .navbar-collapse');
  const items = bar ? [...bar.querySelectorAll(':scope > ul > li.nav-item, :scope > form')]
    .map(el => el.getBoundingClientRect()).filter(r => r.width > 0) : [];
  // One line: every item overlaps the first one vertically.
  const first = items[0];
  const oneLine = items.length > 0
    && items.every(r => r.top < first.bottom && r.bottom > first.top);
  const clipped = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > window.innerWidth + 1 && !el.closest('.table-responsive')) {
      clipped.push(el.tagName + '.' + el.className);
    }
  }
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    oneLine: oneLine,
    clipped: clipped.slice(0, 5),
  };
}"""


@pytest.fixture
def people(manager):
    partner = PartnerFactory(
        name="Alpha Systems International Holdings",
        domain="alpha.example",
        tier=default_tier("silver"),
        channel_manager=manager,
    )
    admin = PartnerUserFactory(
        partner=partner,
        role=PartnerRole.ADMIN,
        user__username="alice.administrator.longname",
        user__email="alice.administrator.longname@alpha-systems-international.example",
    ).user
    rep = PartnerUserFactory(partner=partner, role=PartnerRole.REP, user__username="andy").user
    for n in range(4):
        PartnerUserFactory(
            partner=partner,
            user__username=f"representative{n}",
            user__email=f"representative.number{n}@alpha-systems-international.example",
        )
    for n in range(3):
        Notice.objects.create(
            partner=partner,
            level=Notice.Level.WARNING if n else Notice.Level.INFO,
            text=f"Your registration for Northwind Traders Worldwide {n} was approved by "
            "your channel manager; it is protected until the expiry date shown.",
            link="/portal/deals/",
        )
    for n in range(6):
        DealFactory(
            partner=partner,
            customer_name=f"Northwind Traders Worldwide Incorporated {n}",
            customer_domain=f"northwind-traders-worldwide-{n}.example",
            amount=Decimal("1250000.00"),
        )
    WonDealFactory(partner=partner, closed_on=timezone.localdate() - timedelta(days=5))
    for n in range(3):
        PartnerFactory(name=f"Managed Partner {n}", channel_manager=manager)
    # A review whose day passed a week ago without being held: overdue.
    from prm.quarters import Quarter
    from scoring.models import Qbr

    quarter = Quarter.containing(timezone.localdate())
    Qbr.objects.create(
        partner=partner,
        quarter=quarter.label,
        cadence="quarterly",
        scheduled_for=timezone.localdate() - timedelta(days=7),
        shared_with_partner=True,
        sections={},
    )
    return {
        "partner admin": admin,
        "partner rep": rep,
        "manager": manager,
        "chief": StaffFactory(username="chief", role=Role.CHANNEL_CHIEF),
        "executive": StaffFactory(username="exec", role=Role.EXECUTIVE),
    }


PAGES = {
    "partner admin": ["/portal/home/", "/portal/deals/", "/portal/team/", "/portal/qbrs/"],
    "partner rep": ["/portal/home/", "/portal/deals/", "/portal/team/"],
    "manager": ["/manager/"],
    "chief": ["/executive/", "/manager/"],
    "executive": ["/executive/", "/manager/"],
}


def signed_in_context(browser, live_server, user, viewport, language):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=viewport)
    host = live_server.url.split("//")[1].split(":")[0]
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": host,
                "path": "/",
            },
            {
                "name": settings.LANGUAGE_COOKIE_NAME,
                "value": language,
                "domain": host,
                "path": "/",
            },
        ]
    )
    return context


def shot_name(role, path, width, language):
    slug = path.strip("/").replace("/", "-") or "root"
    return f"/tmp/layout-{role.replace(' ', '-')}-{slug}-{width}-{language}.png"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_is_wider_than_a_phone(browser, live_server, people, language):
    problems = []
    for role, user in people.items():
        context = signed_in_context(browser, live_server, user, PHONE, language)
        page = context.new_page()
        for path in PAGES[role]:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status == 200, (role, path, response.status)
            measured = page.evaluate(MEASURE)
            page.screenshot(path=shot_name(role, path, 390, language), full_page=True)
            if measured["overflow"] > 0 or measured["clipped"]:
                problems.append((role, path, measured))
        context.close()
    assert not problems, problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_navbar_is_one_line_on_a_laptop(browser, live_server, people, language):
    problems = []
    for role, user in people.items():
        context = signed_in_context(browser, live_server, user, LAPTOP, language)
        page = context.new_page()
        for path in PAGES[role]:
            page.goto(f"{live_server.url}{path}")
            measured = page.evaluate(MEASURE)
            page.screenshot(path=shot_name(role, path, 1366, language))
            if not measured["oneLine"] or measured["overflow"] > 0 or measured["clipped"]:
                problems.append((role, path, measured))
        context.close()
    assert not problems, problems


@pytest.mark.parametrize("language", LANGUAGES)
def test_error_pages_fit_a_phone_and_lead_back(browser, live_server, people, language):
    context = signed_in_context(browser, live_server, people["partner admin"], PHONE, language)
    page = context.new_page()
    response = page.goto(f"{live_server.url}/portal/deals/999999/")
    assert response.status == 404
    page.screenshot(path=f"/tmp/layout-error-404-390-{language}.png", full_page=True)
    assert page.evaluate(MEASURE)["overflow"] <= 0
    page.click("[data-testid=way-back] a")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    context.close()


def test_the_overdue_review_the_api_docs_and_the_admin_list_on_a_laptop(
    browser, live_server, people
):
    """Screenshots for a person to look at; the marker, the docs' way back and the admin's
    column are checked here, the layout by the tests above."""
    context = signed_in_context(browser, live_server, people["partner admin"], LAPTOP, "en")
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/qbrs/")
    page.screenshot(path="/tmp/layout-partner-admin-qbrs-overdue-1366-en.png")
    assert page.locator("[data-testid^=overdue-]").count() == 1
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-tag")
    page.screenshot(path="/tmp/layout-api-docs-1366-en.png")
    page.click("[data-testid=back-to-app]")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    context.close()
    context = signed_in_context(browser, live_server, people["manager"], LAPTOP, "en")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/scoring/qbr/")
    page.screenshot(path="/tmp/layout-admin-qbrs-1366-en.png")
    assert "Overdue · 7 d" in page.text_content("#result_list")
    context.close()
