"""The notification centre in a browser (Playwright + Debian's Chromium), in English and
Chinese, at a desktop's width and a phone's. Screenshots go to /tmp/prm-notifications/."""

import os
from datetime import date
from pathlib import Path

import pytest
from django.utils.translation import gettext_noop

from deals import rules
from partners.models import NoticeEmailPreference, NoticeKind, PartnerRole
from partners.services import notice_send
from prm.deferred_text import amount_value, date_value, text_value
from tests.factories import PartnerFactory, PartnerUserFactory, default_tier

from .test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS", "/tmp/prm-notifications"))
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def notices_for(partner, person) -> None:
    notice_send(
        partner=partner,
        user=person,
        level="success",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s is approved and protected until %(day)s."),
        params={"customer": "Globex Corporation", "day": date_value(date(2026, 8, 29))},
        link="/portal/deals/",
    )
    notice_send(
        partner=partner,
        user=person,
        level="info",
        kind=NoticeKind.DEALS,
        message=gettext_noop("%(customer)s: %(reason)s"),
        params={"customer": "Initech", "reason": text_value(rules.UNDER_REVIEW)},
    )
    notice_send(
        partner=partner,
        level="success",
        kind=NoticeKind.MDF,
        message=gettext_noop("MDF claim for “%(title)s” approved: %(amount)s reimbursed."),
        params={"title": "Spring webinar", "amount": amount_value("12500")},
    )
    notice_send(partner=partner, text="A notice from before, kept as it was written")


def test_a_partner_reads_filters_marks_read_and_chooses_a_digest(page, live_server):
    partner = PartnerFactory(name="Gamma Partners", domain="gamma.example", tier=default_tier())
    person = PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN, user__username="gina").user
    notices_for(partner, person)

    sign_in(page, live_server, "gina")
    page.set_viewport_size(WIDTHS["desktop"])
    assert page.text_content("[data-testid=unread]").strip() == "4"
    page.click("[data-testid=notifications-link]")
    page.wait_for_url("**/portal/notifications/")
    listed = page.text_content("[data-testid=notice-list]")
    assert "Globex Corporation is approved and protected until 29 Aug 2026." in listed
    assert "MDF claim for “Spring webinar” approved: 12,500.00 reimbursed." in listed
    assert "A notice from before" in listed
    assert page.locator("[data-testid=notice]").count() == 4
    screenshot(page, "centre-en-1366")

    page.select_option("[data-testid=notice-filters] select[name=kind]", "mdf")
    page.wait_for_url("**/portal/notifications/?kind=mdf*")
    assert page.locator("[data-testid=notice]").count() == 1

    page.click("[data-testid=mark-all-read]")
    page.wait_for_url("**/portal/notifications/")
    assert page.locator("[data-testid=unread]").count() == 0
    page.select_option("[data-testid=notice-filters] select[name=state]", "unread")
    page.wait_for_url("**state=unread*")
    assert page.locator("[data-testid=no-notices]").count() == 1

    page.set_viewport_size(WIDTHS["phone"])
    page.goto(f"{live_server.url}/portal/notifications/")
    screenshot(page, "centre-en-390")

    page.set_viewport_size(WIDTHS["desktop"])
    page.select_option("[data-testid=language] select", "zh-hans")
    page.wait_for_selector("h1:has-text('通知')")
    listed = page.text_content("[data-testid=notice-list]")
    assert "Globex Corporation 已批准，保护期至 2026年8月29日。" in listed
    assert "“Spring webinar”的 MDF 报销已批准：报销 12,500.00。" in listed
    assert "Initech：" in listed and "under review" not in listed
    screenshot(page, "centre-zh-1366")
    page.set_viewport_size(WIDTHS["phone"])
    page.reload()
    screenshot(page, "centre-zh-390")

    page.goto(f"{live_server.url}/portal/notifications/settings/")
    page.click("label[for=id_kind_deals_1]")  # 每日摘要 (a daily digest) for deals
    page.click("label[for=id_kind_mdf_2]")  # 不发送 (never) for MDF
    screenshot(page, "settings-zh-390")
    page.click("[data-testid=save-preferences]")
    page.wait_for_selector("text=您的通知设置已保存。")
    chosen = dict(NoticeEmailPreference.objects.filter(user=person).values_list("kind", "delivery"))
    assert (chosen["deals"], chosen["mdf"], chosen["earnings"]) == (
        "daily",
        "never",
        "immediately",
    )
    person.refresh_from_db()
    assert person.language == "zh-hans"  # the page's language is offered for the mail
    page.set_viewport_size(WIDTHS["desktop"])
    screenshot(page, "settings-zh-1366")
    page.select_option("[data-testid=language] select", "en")
    page.wait_for_selector("h1:has-text('Notification settings')")
    screenshot(page, "settings-en-1366")


def test_a_bad_filter_in_the_address_is_told_not_a_crash(page, live_server):
    partner = PartnerFactory(name="Delta Partners", domain="delta.example", tier=default_tier())
    PartnerUserFactory(partner=partner, user__username="dora")
    sign_in(page, live_server, "dora")
    response = page.goto(f"{live_server.url}/portal/notifications/?kind=bogus&page=-3")
    assert response.status == 400
    errors = page.text_content("[data-testid=filter-errors]")
    assert "bogus" in errors and "Page" in errors
    page.set_viewport_size(WIDTHS["phone"])
    screenshot(page, "centre-bad-filter-en-390")
