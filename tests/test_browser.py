"""Browser tests of the main flows (Playwright + Debian's Chromium)."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import PartnerRole
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffFactory,
    WonDealFactory,
    default_tier,
    totp_code,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

PASSWORD = "Correct-Horse-9"


def sign_in(page, live_server, username):
    """Through the sign-in form; staff (two-factor sign-in) then type their app's code."""
    page.goto(f"{live_server.url}/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/auth/2fa/authenticate/" in page.url:
        page.fill("#id_code", totp_code())
        page.click("button[type=submit]:has-text('Sign In')")
        page.wait_for_load_state()


def test_partner_signs_in_and_sees_its_tier_and_progress(page, live_server):
    partner = PartnerFactory(
        name="Gamma Partners", domain="gamma.example", tier=default_tier("silver")
    )
    user = PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN, user__username="gina").user
    CertificationFactory(partner=partner, user=user)
    WonDealFactory(
        partner=partner,
        partner_credit=Decimal("80000"),
        closed_on=timezone.localdate() - timedelta(days=20),
    )

    sign_in(page, live_server, "gina")

    page.wait_for_url(f"{live_server.url}/portal/home/")
    assert page.text_content("[data-testid=tier]") == "Silver"
    assert page.text_content("[data-testid=margin]").strip() == "20%"
    progress = page.text_content("[data-testid=next-tier]")
    assert "$80,000 of $200,000" in progress
    assert "$120,000 to go" in progress
    assert "1 of 2" in progress
    bar = page.get_attribute("[data-testid=gap-revenue] .progress", "aria-valuenow")
    assert bar == "40"

    page.click("[data-testid=nav-more]")  # the partner's company pages are in "More"
    page.click("text=Team")
    page.wait_for_url(f"{live_server.url}/portal/team/")
    assert "gina@example.com" in page.text_content("[data-testid=members]")


def test_wrong_password_shows_a_message(page, live_server):
    PartnerUserFactory(user__username="hal")
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_login", "hal")
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    assert "not correct" in page.text_content(".alert-danger")


def test_register_see_the_conflict_hint_manager_approves_partner_sees_it(page, live_server):
    from deals.services import deal_register
    from partners.models import PartnerRole
    from tests.factories import StaffFactory

    manager = StaffFactory(username="mona", role="channel_manager")
    ours = PartnerFactory(name="Delta Partners", domain="delta.example", channel_manager=manager)
    theirs = PartnerFactory(name="Echo Partners", domain="echo.example")
    PartnerUserFactory(partner=ours, role=PartnerRole.ADMIN, user__username="dora")
    echo_rep = PartnerUserFactory(partner=theirs).user
    deal_register(
        partner=theirs,
        submitted_by=echo_rep,
        customer_name="Taken Co",
        customer_domain="taken.example",
        amount="5000",
        expected_close=timezone.localdate() + timedelta(days=30),
        deal_type="new_logo",
        compensation_model="reseller",
    )

    sign_in(page, live_server, "dora")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    page.click("text=Deals")
    page.click("text=Register a deal")
    page.fill("#id_customer_name", "Taken Co")
    page.fill("#id_customer_domain", "www.taken.example")
    page.wait_for_selector("#account-check[data-state=taken]")
    assert "Echo" not in page.text_content("#account-check")
    page.fill("#id_customer_name", "Fresh Foods")
    page.fill("#id_customer_domain", "freshfoods.example")
    page.wait_for_selector("#account-check[data-state=free]")
    page.fill("#id_amount", "48000")
    page.fill("#id_expected_close", str(timezone.localdate() + timedelta(days=60)))
    page.click("button:has-text('Register')")
    page.wait_for_selector("[data-testid=deal-status]")
    assert "Pending approval" in page.text_content("[data-testid=deal-status]")
    deal_url = page.url

    manager_context = page.context.browser.new_context()
    manager_page = manager_context.new_page()
    sign_in(manager_page, live_server, "mona")
    manager_page.goto(f"{live_server.url}/admin/deals/deal/?status__exact=pending")
    manager_page.click("text=Fresh Foods")
    manager_page.click("text=Approve")
    manager_page.click("input[type=submit][value=Approve]")
    manager_page.wait_for_selector("text=approve recorded")
    manager_context.close()

    page.goto(deal_url)
    assert "Approved" in page.text_content("[data-testid=deal-status]")
    assert page.text_content("[data-testid=expires-on]")
    page.goto(f"{live_server.url}/portal/home/")
    assert "Fresh Foods is approved" in page.text_content("[data-testid=notices]")


def test_a_probable_duplicate_is_held_the_manager_decides_and_the_partner_is_told(
    page, live_server
):
    from deals.services import deal_register
    from tests.factories import StaffFactory

    manager = StaffFactory(username="mona", role="channel_manager")
    ours = PartnerFactory(name="Delta Partners", domain="delta.example", channel_manager=manager)
    theirs = PartnerFactory(name="Echo Partners", domain="echo.example")
    PartnerUserFactory(partner=ours, role=PartnerRole.ADMIN, user__username="dora")
    deal_register(
        partner=theirs,
        submitted_by=PartnerUserFactory(partner=theirs).user,
        customer_name="Globex Corporation",
        customer_domain="globex.com",
        amount="5000",
        expected_close=timezone.localdate() + timedelta(days=30),
        deal_type="new_logo",
        compensation_model="reseller",
    )

    sign_in(page, live_server, "dora")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    page.goto(f"{live_server.url}/portal/deals/new/")
    page.fill("#id_customer_name", "Globex GmbH")
    page.fill("#id_customer_domain", "glo\u200bbex.de")
    page.wait_for_selector("#account-check[data-state=invalid]")
    page.fill("#id_customer_domain", "globex.de")
    page.wait_for_selector("#account-check[data-state=review]")
    assert "Echo" not in page.text_content("#account-check")
    page.fill("#id_amount", "48000")
    page.fill("#id_expected_close", str(timezone.localdate() + timedelta(days=60)))
    page.click("button:has-text('Register')")
    page.wait_for_selector("[data-testid=deal-status]")
    assert "Under review" in page.text_content("[data-testid=deal-status]")
    assert "under review" in page.text_content("[data-testid=deal-message]")
    assert "Echo" not in page.content()
    deal_url = page.url

    manager_context = page.context.browser.new_context()
    manager_page = manager_context.new_page()
    sign_in(manager_page, live_server, "mona")
    manager_page.goto(deal_url)
    match = manager_page.text_content("[data-testid=review-match]")
    assert "Echo Partners" in match and "globex.com" in match
    manager_page.click("button:has-text('The same customer: reject')")
    manager_page.wait_for_selector("text=Rejected: the same customer")
    manager_context.close()

    page.goto(deal_url)
    assert "Rejected" in page.text_content("[data-testid=deal-status]")
    assert "Another partner registered this customer first" in page.text_content(
        "[data-testid=deal-message]"
    )
    page.goto(f"{live_server.url}/portal/home/")
    notices = page.text_content("[data-testid=notices]")
    assert "Globex GmbH" in notices and "Echo" not in notices


def test_chief_closes_a_quarter_in_the_admin_and_the_partner_sees_its_scorecard(
    page, live_server, celery_worker_process
):
    from datetime import date

    from partners.models import PartnerRole
    from tests.factories import StaffFactory

    StaffFactory(username="cora", role="channel_chief")
    partner = PartnerFactory(
        name="Foxtrot Partners", domain="foxtrot.example", tier=default_tier("registered")
    )
    PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN, user__username="fred")
    # Revenue of $2.5M in the quarter: platinum at once.
    WonDealFactory(partner=partner, partner_credit=Decimal("2500000"), closed_on=date(2026, 5, 20))

    chief_context = page.context.browser.new_context()
    chief_page = chief_context.new_page()
    sign_in(chief_page, live_server, "cora")
    chief_page.goto(f"{live_server.url}/admin/scoring/quarterclose/")
    chief_page.click("text=Run a quarter close")
    chief_page.fill("#id_quarter", "2026Q2")
    chief_page.click("input[type=submit][value='Close the quarter']")
    chief_page.wait_for_selector("#close-progress [data-state=done]", timeout=60_000)
    assert "1 tier change" in chief_page.text_content("#close-progress")
    chief_context.close()

    sign_in(page, live_server, "fred")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    assert page.text_content("[data-testid=tier]") == "Platinum"
    page.click("text=Scorecards")
    card = page.text_content("[data-testid=scorecard-2026Q2]")
    assert "Fast-track" in card and "Registered → Platinum" in card
    assert "Fast-track" in page.text_content("[data-testid=tier-history]")


def test_mdf_from_request_to_reimbursement_in_portal_and_admin(page, live_server):
    from incentives.models import MdfFund
    from tests.factories import StaffFactory

    StaffFactory(username="milo", role="channel_manager")
    manager = StaffFactory._meta.model.objects.get(username="milo")
    partner = PartnerFactory(
        name="Golf Partners",
        domain="golf.example",
        tier=default_tier("gold"),
        channel_manager=manager,
    )
    PartnerUserFactory(partner=partner, role=PartnerRole.ADMIN, user__username="gwen")
    today = timezone.localdate()
    MdfFund.objects.create(
        partner=partner, fiscal_year=today.year, amount=Decimal("12000"), basis="Gold: 4%"
    )

    sign_in(page, live_server, "gwen")
    page.wait_for_url(f"{live_server.url}/portal/home/")
    page.click("nav >> text=MDF")
    assert "$12,000.00" in page.text_content("[data-testid=fund]")
    page.click("text=Request MDF")
    page.select_option("#id_activity_type", "joint_webinar")
    page.fill("#id_title", "Zero-trust webinar")
    page.fill("#id_planned_cost", "5000")
    page.fill("#id_starts_on", str(today))
    page.fill("#id_ends_on", str(today))
    page.fill("#id_expected_leads", "120")
    page.click("button:has-text('Submit for approval')")
    page.wait_for_selector("[data-testid=request-status]")
    assert "Awaiting pre-approval" in page.text_content("[data-testid=request-status]")
    request_url = page.url

    manager_context = page.context.browser.new_context()
    manager_page = manager_context.new_page()
    sign_in(manager_page, live_server, "milo")
    manager_page.goto(f"{live_server.url}/admin/incentives/mdfrequest/")
    manager_page.check("input[name=_selected_action]")
    manager_page.select_option("select[name=action]", "approve_selected")
    manager_page.click("button[name=index]")
    manager_page.wait_for_selector("text=Approved MDF requests: 1")

    page.goto(request_url)
    assert "$5,000.00" in page.text_content("[data-testid=reserved]")
    page.fill("#id_actual_cost", "4200")
    page.fill("#id_leads_generated", "134")
    page.set_input_files(
        "#id_files",
        files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": PROOF_PDF}],
    )
    page.click("button:has-text('File claim')")
    page.wait_for_selector("text=Your claim is filed")
    assert "invoice.pdf" in page.content()

    manager_page.goto(f"{live_server.url}/admin/incentives/mdfclaim/")
    assert "invoice.pdf" in manager_page.content()
    manager_page.check("input[name=_selected_action]")
    manager_page.select_option("select[name=action]", "approve_selected")
    manager_page.click("button[name=index]")
    manager_page.wait_for_selector("text=Approved MDF claims: 1")
    manager_context.close()

    page.goto(request_url)
    assert "$4,200.00" in page.text_content("[data-testid=reimbursement]")
    page.click("nav >> text=MDF")
    assert "$4,200.00" in page.text_content("[data-testid=fund-reimbursed]")
    assert "$7,800.00" in page.text_content("[data-testid=fund-available]")
    page.click("nav >> text=Earnings")
    ledger = page.text_content("[data-testid=ledger]")
    assert "MDF: Zero-trust webinar" in ledger and "$4,200.00" in ledger
    assert "$4,200.00" in page.text_content("[data-testid=approved-total]")


PROOF_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_an_applicant_applies_a_manager_approves_and_the_admin_sees_the_plan(
    page, live_server, tmp_path, queued_mail
):
    import re

    from django.core import mail

    from tests.factories import StaffFactory

    StaffFactory(username="nina", role="channel_manager")

    page.goto(f"{live_server.url}/apply/")
    page.fill("#id_company_name", "November Networks")
    page.fill("#id_domain", "november.example")
    page.fill("#id_country", "Ireland")
    page.select_option("#id_partner_type", "reseller")
    page.fill("#id_employees", "30")
    page.fill("#id_annual_revenue", "2500000")
    page.fill("#id_customers_in_segment", "40")
    page.fill("#id_technical_staff", "3")
    page.fill("#id_contact_name", "Nora Novak")
    page.fill("#id_contact_email", "nora@november.example")
    page.click("button:has-text('Apply')")
    assert "Thank you, Nora Novak" in page.text_content("[data-testid=applied]")

    manager_context = page.context.browser.new_context()
    manager_page = manager_context.new_page()
    sign_in(manager_page, live_server, "nina")
    manager_page.goto(f"{live_server.url}/admin/enablement/partnerapplication/")
    assert "100.0" in manager_page.text_content("#result_list")  # a perfect fit
    manager_page.check("input[name=_selected_action]")
    manager_page.select_option("select[name=action]", "qualify_selected")
    manager_page.click("button[name=index]")
    manager_page.wait_for_selector("text=Qualified: 1")
    manager_page.check("input[name=_selected_action]")
    manager_page.select_option("select[name=action]", "approve_selected")
    manager_page.click("button[name=index]")
    manager_page.fill("#id_agreement_signed_on", str(timezone.localdate()))
    manager_page.click("input[type=submit][value=Confirm]")
    manager_page.wait_for_selector("text=partner created and admin invited")
    manager_context.close()

    queued_mail()  # what the worker would send
    invitation = next(m for m in mail.outbox if m.to == ["nora@november.example"])
    link = re.search(r"https?://\S+/auth/password/reset/key/\S+", invitation.body).group(0)
    page.goto(live_server.url + link[link.index("/auth/") :])
    page.fill("input[name=password1]", "Fresh-Partner-77")
    page.fill("input[name=password2]", "Fresh-Partner-77")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/auth/login/")
    if page.locator("#id_login").count():  # unless setting the password signed her in
        page.fill("#id_login", "nora@november.example")
        page.fill("#id_password", "Fresh-Partner-77")
        page.click("button[type=submit]")
    page.goto(f"{live_server.url}/portal/home/")
    assert "0 of 12 steps done" in page.text_content("[data-testid=onboarding-card]")
    page.click("text=See the plan")
    page.wait_for_selector("[data-testid=onboarding-progress]")
    plan = page.content()
    assert "Product deep dive" in plan and "First registered deal" in plan
    shot = tmp_path / "onboarding.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_an_executive_reads_the_dashboard_in_chinese_and_drills_into_a_tier(
    page, live_server, tmp_path
):
    from tests.factories import ScorecardFactory, StaffFactory

    StaffFactory(username="emma", role="executive")
    quarter_day = timezone.localdate() - timedelta(days=95)
    for slug, name in (("gold", "Goldline Partners"), ("registered", "Starter Partners")):
        partner = PartnerFactory(name=name, tier=default_tier(slug))
        WonDealFactory(partner=partner, partner_credit=Decimal("90000"), closed_on=quarter_day)
        ScorecardFactory(partner=partner, quarter=_label(quarter_day), total=Decimal("72"))

    sign_in(page, live_server, "emma")
    page.goto(f"{live_server.url}/executive/?quarter={_label(quarter_day)}")
    page.wait_for_function(
        "['revenue-chart', 'health-chart', 'tier-chart'].every(id => {"
        "  const chart = Chart.getChart(document.getElementById(id));"
        "  return chart && chart.data.datasets[0].data.some(v => Number(v) > 0); })"
    )
    page.select_option("[data-testid=language] select", "zh-hans")
    page.wait_for_selector("h1:has-text('计划仪表板')")
    assert "活跃合作伙伴" in page.text_content("[data-testid=kpis]")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000
    page.click("[data-testid=drill-gold]")
    page.wait_for_url("**/manager/?tier=gold")
    listed = page.content()
    assert "Goldline Partners" in listed and "Starter Partners" not in listed


def _label(day) -> str:
    from prm.quarters import Quarter

    return Quarter.containing(day).label


def test_a_new_staff_member_sets_up_two_factor_sign_in_then_signs_in_with_it(page, live_server):
    StaffFactory(username="tess", role="channel_chief", mfa=False)
    sign_in(page, live_server, "tess")
    # Sent to set it up; asked for the password again before sign-in methods change.
    page.wait_for_url(f"{live_server.url}/auth/reauthenticate/**")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/auth/2fa/totp/activate/")
    assert page.locator("img[src^='data:image/svg+xml']").count() == 1
    secret = page.input_value("#authenticator_secret")
    page.fill("#id_code", totp_code(secret))
    page.click("button[type=submit]:has-text('Activate')")
    page.wait_for_url(f"{live_server.url}/auth/2fa/recovery-codes/")
    assert len(page.input_value("#recovery_codes").split()) == 10
    page.goto(f"{live_server.url}/manager/")
    assert page.url == f"{live_server.url}/manager/"

    page.click("[data-testid=whoami]")
    page.click("[data-testid=sign-out]")
    page.goto(f"{live_server.url}/auth/login/")
    page.fill("#id_login", "tess")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/auth/2fa/authenticate/")
    page.fill("#id_code", totp_code(secret, at=time.time() + 30))
    page.click("button[type=submit]:has-text('Sign In')")
    page.wait_for_load_state()
    assert "/auth/" not in page.url
    assert "Channel chief" in page.text_content("[data-testid=whoami]")
