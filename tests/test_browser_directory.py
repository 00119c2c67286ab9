"""The partner directory in a browser: a partner admin opts in with a logo, a customer
finds the partner (at 1366 px in English, at 390 px in Chinese) and contacts it, and the
inquiry is a lead the partner sees. Screenshots go to ``DIRECTORY_SCREENSHOTS``."""

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from partners.models import DirectoryInquiry, Lead, PartnerRole
from tests.factories import PartnerFactory, PartnerUserFactory, default_tier

from .test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

SCREENSHOTS = Path(os.environ.get("DIRECTORY_SCREENSHOTS", "/tmp/directory-screenshots"))


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def logo_png() -> bytes:
    image = Image.new("RGB", (160, 160), (19, 84, 150))
    for x in range(40, 120):
        for y in range(40, 120):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_directory_inquiry_becomes_the_partners_lead(page, live_server, tmp_path):
    partner = PartnerFactory(name="Delta Integrators", tier=default_tier("gold"))
    PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN, user__username="dora")
    PartnerFactory(name="Quiet Partner")  # not in the directory: never shown
    logo = tmp_path / "delta.png"
    logo.write_bytes(logo_png())

    # The partner admin opts in, with a logo.
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "dora")
    page.goto(f"{live_server.url}/portal/directory/")
    page.fill("#id_description", "Retail and logistics integrations across Europe and Asia.")
    page.check("input[name=specialties][value=integration]")
    page.check("input[name=specialties][value=cloud_migration]")
    page.check("input[name=regions][value=emea]")
    page.check("input[name=regions][value=apac]")
    page.check("input[name=languages][value=en]")
    page.check("input[name=languages][value=zh]")
    page.set_input_files("#id_logo", str(logo))
    page.check("#id_listed")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Directory profile saved.")
    assert page.is_visible("[data-testid=public-link]")
    screenshot(page, "profile-1366-en")

    # A customer finds it from the sign-in page, filters, and writes.
    customer = page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    visitor = customer.new_page()
    visitor.goto(f"{live_server.url}/auth/login/")
    visitor.click("[data-testid=directory-link]")
    visitor.wait_for_selector("h1:has-text('Find a partner')")
    assert "Quiet Partner" not in visitor.content()
    visitor.select_option("#id_region", "apac")
    visitor.select_option("#id_language", "zh")
    visitor.click("button:has-text('Search')")
    visitor.wait_for_url("**/directory/?*region=apac*")
    assert visitor.locator("[data-testid=directory-card]").count() == 1
    assert (
        visitor.evaluate("document.querySelector('[data-testid=directory-card] img').naturalWidth")
        == 160
    )  # the logo is served and drawn
    screenshot(visitor, "directory-1366-en")
    visitor.click("text=Delta Integrators")
    visitor.wait_for_selector("text=Contact this partner")
    assert visitor.text_content("[data-testid=tier]") == "Gold"
    screenshot(visitor, "partner-1366-en")
    visitor.fill("#id_contact_name", "Carla Customer")
    visitor.fill("#id_company_name", "Contoso Retail")
    visitor.fill("#id_contact_email", "not-an-address")
    visitor.fill("#id_domain", "contoso.example")
    visitor.fill("#id_message", "We need help moving 40 stores onto the platform.")
    visitor.click("button:has-text('Send')")
    visitor.wait_for_selector("[data-testid=field-error]")
    assert "valid email" in visitor.text_content("[data-testid=field-error]")
    assert visitor.input_value("#id_message").startswith("We need help")  # nothing lost
    visitor.fill("#id_contact_email", "carla@contoso.example")
    visitor.click("button:has-text('Send')")
    visitor.wait_for_selector("[data-testid=inquiry-sent]")
    assert "Thank you, Carla Customer" in visitor.text_content("[data-testid=inquiry-sent]")
    screenshot(visitor, "sent-1366-en")
    customer.close()

    lead = Lead.objects.get()
    assert lead.partner == partner and lead.source == "directory"
    assert DirectoryInquiry.objects.get().lead == lead

    # The same, on a phone, in Chinese.
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", extra_http_headers={}
    )
    mobile = phone.new_page()
    mobile.goto(f"{live_server.url}/directory/")
    mobile.select_option("[data-testid=directory-language] select", "zh-hans")
    mobile.wait_for_selector("h1:has-text('寻找合作伙伴')")
    assert fits_the_width(mobile)
    screenshot(mobile, "directory-390-zh")
    mobile.click("text=Delta Integrators")
    mobile.wait_for_selector("text=联系该合作伙伴")
    assert fits_the_width(mobile)
    screenshot(mobile, "partner-390-zh")
    mobile.fill("#id_contact_name", "王芳")
    mobile.fill("#id_company_name", "上海零售")
    mobile.fill("#id_contact_email", "wang@shanghai-retail.example")
    mobile.fill("#id_message", "我们需要把门店系统迁移到云端。")
    mobile.click("button:has-text('发送')")
    mobile.wait_for_selector("[data-testid=inquiry-sent]")
    assert "王芳" in mobile.text_content("[data-testid=inquiry-sent]")
    assert fits_the_width(mobile)
    screenshot(mobile, "sent-390-zh")
    phone.close()

    # The partner sees both inquiries and the month's count against the range.
    page.goto(f"{live_server.url}/portal/directory/")
    inquiries = page.text_content("[data-testid=inquiries]")
    assert "Contoso Retail" in inquiries and "上海零售" in inquiries
    assert "carla@contoso.example" in inquiries
    assert "2" in page.text_content("[data-testid=directory-leads] .stat")
    assert "Below the range" in page.text_content("[data-testid=directory-leads]")
    screenshot(page, "profile-1366-en-leads")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert fits_the_width(page)
    screenshot(page, "profile-390-en")
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )
    page.reload()
    page.wait_for_selector("h1:has-text('目录资料')")
    assert "低于区间" in page.text_content("[data-testid=directory-leads]")
    assert fits_the_width(page)
    screenshot(page, "profile-390-zh")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.reload()
    screenshot(page, "profile-1366-zh")
    assert Lead.objects.filter(partner=partner, source="directory").count() == 2
