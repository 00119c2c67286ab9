"""Browser tests of lead distribution: a partner accepts and declines in its Leads inbox,
an unanswered offer is pulled back and reoffered, and a returned lead waits in the admin's
queue for a manager to pass it on. Screenshots go to ``LEAD_SCREENSHOTS`` (default
/tmp/lead-screenshots), at 1366 and 390 pixels wide, in English and in Chinese."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from partners.models import LeadStatus, PartnerRole, RoutingRule
from partners.queries import default_program
from partners.services import lead_create
from partners.services import leads as lead_services
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory
from tests.test_browser import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

SHOTS = Path(os.environ.get("LEAD_SCREENSHOTS", "/tmp/lead-screenshots"))


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


@pytest.fixture
def emea():
    """Two partners in EMEA under one manager, each with an admin, and a rule for EMEA."""
    manager = StaffFactory(username="mia", role="channel_manager")
    RoutingRule.objects.create(program=default_program(), name="EMEA", region="emea")
    first = PartnerFactory(name="Alpha Systems", region="emea", channel_manager=manager)
    second = PartnerFactory(name="Bravo Networks", region="emea", channel_manager=manager)
    PartnerUserFactory(partner=first, role=PartnerRole.ADMIN, user__username="alice")
    PartnerUserFactory(partner=second, role=PartnerRole.ADMIN, user__username="bob")
    return manager, first, second


def test_a_partner_accepts_and_declines_and_an_unanswered_lead_moves_on(page, live_server, emea):
    manager, first, second = emea
    accepted = lead_create(
        company_name="Initech", domain="initech.example", region="emea", route=True
    )
    declined = lead_create(company_name="Hooli", domain="hooli.example", region="emea", route=True)
    # Alpha had none and both waited forever: it got the first, Bravo the second. Both now
    # hold one; Alpha has waited longer since its last offer, so it gets Globex too.
    assert (accepted.partner, declined.partner) == (first, second)
    late = lead_create(company_name="Globex", region="emea", route=True)
    assert late.partner == first
    for_alpha = lead_create(company_name="Umbrella", region="emea", specialty="security")
    lead_services.lead_reassign(lead=for_alpha, partner=first, by=manager)
    page.set_viewport_size({"width": 1366, "height": 900})

    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/portal/leads/")
    assert "Initech" in page.text_content("[data-testid=offers]")
    shot(page, "inbox-1366-en")
    page.click(f"[data-testid=accept-{accepted.pk}]")
    page.wait_for_selector("text=You accepted Initech")
    assert "Initech" in page.text_content("[data-testid=accepted]")
    shot(page, "accepted-1366-en")

    # Declining without a reason, then "Other" without words: refused, with the reason why.
    page.click(f"[data-testid=decline-{for_alpha.pk}]")
    page.click("[data-testid=decline-submit]")
    page.wait_for_selector("[data-testid=error-reason]")
    page.select_option("#id_reason", "other")
    page.click("[data-testid=decline-submit]")
    assert "Say why in a few words" in page.text_content("[data-testid=error-note]")
    shot(page, "decline-refused-1366-en")
    page.fill("#id_note", "We do not sell security products.")
    page.click("[data-testid=decline-submit]")
    page.wait_for_selector("text=You declined Umbrella")
    for_alpha.refresh_from_db()
    assert for_alpha.status == LeadStatus.RETURNED  # a manager's own offer returns to them

    # Alpha lets Globex's window pass: the beat pulls it back and offers it to Bravo.
    lead_services.leads_pull_back(now=timezone.now() + timedelta(hours=49))
    late.refresh_from_db()
    assert (late.status, late.partner) == (LeadStatus.OFFERED, second)
    page.reload()
    assert "Globex" not in page.text_content("[data-testid=offers]")

    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/portal/leads/")
    assert "Globex" in page.text_content("[data-testid=offers]")
    shot(page, "reoffered-390-en")
    page.click(".navbar-toggler")  # at 390 pixels the menu, language included, is folded
    page.select_option("[data-testid=language] select", "zh-hans")
    page.wait_for_selector("h1:has-text('线索')")
    assert "等待您的答复" in page.content()
    shot(page, "reoffered-390-zh")
    page.click(f"[data-testid=decline-{late.pk}]")
    page.click("[data-testid=decline-submit]")
    page.wait_for_selector("[data-testid=error-reason]")
    shot(page, "decline-refused-390-zh")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/portal/leads/")
    shot(page, "inbox-1366-zh")


def test_a_returned_lead_waits_in_the_queue_and_a_manager_passes_it_on(page, live_server, emea):
    manager, first, second = emea
    nowhere = lead_create(company_name="Soylent", region="apac", route=True)
    assert nowhere.status == LeadStatus.RETURNED
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "mia")
    page.goto(f"{live_server.url}/admin/partners/lead/?queue=waiting")
    assert "Soylent" in page.text_content("#result_list")
    shot(page, "admin-queue-1366")
    page.check(f"input[name=_selected_action][value='{nowhere.pk}']")
    page.select_option("select[name=action]", "reassign_selected")
    page.click("button[name=index]")
    page.select_option("#id_partner", str(second.pk))
    shot(page, "admin-reassign-1366")
    page.click("input[type=submit][value=Offer]")
    page.wait_for_selector(f"text=Offered 1 lead(s) to {second.name}.")
    nowhere.refresh_from_db()
    assert (nowhere.status, nowhere.partner) == (LeadStatus.OFFERED, second)
    page.goto(f"{live_server.url}/admin/partners/lead/{nowhere.pk}/change/")
    assert "Awaiting answer" in page.content()
    shot(page, "admin-offer-history-1366")


def test_a_partner_closes_an_accepted_lead_with_a_reason_on_a_phone(page, live_server, emea):
    manager, first, _ = emea
    lead = lead_create(company_name="Initech", domain="initech.example")
    lead_services.lead_reassign(lead=lead, partner=first, by=manager)
    alice = first.members.get().user
    lead_services.lead_accept(lead=lead, partner=first, by=alice)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/portal/leads/")
    page.click(f"[data-testid=close-{lead.pk}]")
    # No reason, then "Other" without words: refused, with the reason why.
    page.click("[data-testid=close-submit]")
    page.wait_for_selector("[data-testid=error-reason]")
    page.select_option("#id_reason", "other")
    page.click("[data-testid=close-submit]")
    assert "Say why in a few words" in page.text_content("[data-testid=error-note]")
    shot(page, "close-refused-390-en")
    page.select_option("#id_reason", "no_budget")
    page.fill("#id_note", "Budget frozen until next year.")
    page.click("[data-testid=close-submit]")
    page.wait_for_selector("text=You closed Initech")
    row = page.text_content(f"[data-testid=lead-{lead.pk}]")
    assert "Closed by you" in row and "No budget" in row
    assert not page.query_selector(f"[data-testid=close-{lead.pk}]")
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "closed-390-en")
    lead.refresh_from_db()
    assert (lead.status, lead.close_reason, lead.close_note, lead.closed_by) == (
        LeadStatus.CLOSED,
        "no_budget",
        "Budget frozen until next year.",
        alice,
    )
