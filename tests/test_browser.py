"""Browser tests of the main flows (Playwright + Debian's Chromium)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from partners.models import PartnerRole
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

PASSWORD = "Correct-Horse-9"


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


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
