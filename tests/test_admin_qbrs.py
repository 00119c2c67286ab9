"""QBRs and joint business plans in the admin: scoped lists, the agenda, action items and
the manager's acts, every write through a service; bad input is a 400 with words."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from partners.models import Notice
from scoring.models import JointBusinessPlan, Qbr, QbrActionItem
from scoring.services.reviews import qbr_action_item_add, qbr_schedule
from tests.factories import DealFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def qbr(qbr_scenario, manager):
    return qbr_schedule(
        partner=qbr_scenario["partner"],
        quarter="2026Q4",
        scheduled_for=date(2026, 10, 20),
        by=manager,
    )


def change_url(qbr) -> str:
    return reverse("admin:scoring_qbr_change", args=[qbr.pk])


def act_url(qbr, what: str) -> str:
    return reverse("admin:scoring_qbr_act", args=[qbr.pk, what])


def form(qbr, items=(), **changes) -> dict:
    """The change form as the browser sends it; ``items``: new action items' fields."""
    existing = list(qbr.action_items.all())
    data = {
        "scheduled_for": qbr.scheduled_for.isoformat(),
        "notes": qbr.notes,
        "action_items-TOTAL_FORMS": str(len(existing) + len(items)),
        "action_items-INITIAL_FORMS": str(len(existing)),
        "action_items-MIN_NUM_FORMS": "0",
        "action_items-MAX_NUM_FORMS": "1000",
    }
    for index, item in enumerate(existing):
        data |= {
            f"action_items-{index}-id": str(item.pk),
            f"action_items-{index}-qbr": str(qbr.pk),
            f"action_items-{index}-text": item.text,
            f"action_items-{index}-owner": str(item.owner_id or ""),
            f"action_items-{index}-owner_name": item.owner_name,
            f"action_items-{index}-due_on": item.due_on.isoformat() if item.due_on else "",
        }
        if item.done_at:
            data[f"action_items-{index}-done"] = "on"
    for offset, fields in enumerate(items, start=len(existing)):
        data |= {f"action_items-{offset}-qbr": str(qbr.pk)}
        data |= {f"action_items-{offset}-{key}": value for key, value in fields.items()}
    data.update(changes)
    return data


def test_managers_list_their_partners_qbrs_with_filters(client, manager, partner_a, partner_b):
    for partner, quarter, day in (
        (partner_a, "2026Q4", date(2026, 10, 20)),
        (partner_a, "2026Q3", date(2026, 7, 20)),
        (partner_b, "2026Q4", date(2026, 10, 21)),
    ):
        Qbr.objects.create(partner=partner, quarter=quarter, cadence="quarterly", scheduled_for=day)
    Qbr.objects.filter(quarter="2026Q3").update(status="held", held_on=date(2026, 7, 20))
    client.force_login(manager)
    url = reverse("admin:scoring_qbr_changelist")

    def rows(query: str = "") -> str:
        page = client.get(url + query).content.decode()
        return page.split('id="result_list"')[1].split("</table>")[0]

    everything = rows()
    assert everything.count("<tr") == 3 and "Bravo Networks" not in everything  # head + 2
    assert "2026Q3" not in rows("?quarter=2026Q4")
    held = rows("?held=yes")
    assert "2026Q3" in held and "2026Q4" not in held
    assert "2026Q3" not in rows("?status__exact=scheduled")


def test_the_change_page_shows_the_agenda(client, manager, qbr):
    client.force_login(manager)
    page = client.get(change_url(qbr)).content.decode()
    assert "1. Scorecard: 2026Q3 against 2026Q2" in page
    assert "Umbrella" in page and "Zero-trust webinar" in page and "Globex Corp" in page
    assert "Reviews" in page and "2026Q3" in page
    for label in (">Refresh<", ">Mark held<", ">Share<", ">Cancel<", ">Print<", ">PDF<"):
        assert label in page


def test_action_items_are_added_and_ticked_through_the_services(client, manager, a_admin, qbr):
    client.force_login(manager)
    response = client.post(
        change_url(qbr),
        form(
            qbr,
            [{"text": "  Certify a second rep ", "owner": str(a_admin.pk), "due_on": "2026-11-30"}],
            notes="Umbrella first.",
        ),
    )
    assert response.status_code == 302
    item = QbrActionItem.objects.get(qbr=qbr)
    assert (item.text, item.owner, item.due_on, item.created_by) == (
        "Certify a second rep",
        a_admin,
        date(2026, 11, 30),
        manager,
    )
    qbr.refresh_from_db()
    assert qbr.notes == "Umbrella first."

    data = form(qbr)
    data["action_items-0-done"] = "on"
    assert client.post(change_url(qbr), data).status_code == 302
    item.refresh_from_db()
    assert item.done_at is not None
    assert item.history.first().history_user == manager


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "", "due_on": "2026-11-30"}, "Say what is to be done."),
        ({"text": "Send the deck", "due_on": "2026-02-30"}, "Enter a valid date."),
        ({"text": "Send the deck", "due_on": "2026-10-01"}, "on or after the meeting"),
        ({"text": "Send the deck", "owner_name": "Bob", "owner": "OWNER"}, "not both"),
    ],
)
def test_a_bad_action_item_is_a_400_with_words(client, manager, a_admin, qbr, fields, message):
    if fields.get("owner") == "OWNER":
        fields["owner"] = str(a_admin.pk)
    client.force_login(manager)
    response = client.post(change_url(qbr), form(qbr, [fields]))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not QbrActionItem.objects.exists()


def test_another_partners_person_cannot_own_an_action_item(client, manager, b_admin, qbr):
    client.force_login(manager)
    response = client.post(change_url(qbr), form(qbr, [{"text": "x", "owner": str(b_admin.pk)}]))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    with pytest.raises(ValidationError, match="vendor or for this partner"):
        qbr_action_item_add(qbr=qbr, by=manager, text="x", owner=b_admin)


def test_refresh_then_hold_then_the_sections_stay(client, manager, qbr, qbr_clock):
    client.force_login(manager)
    DealFactory(partner=qbr.partner, customer_name="Wayne Enterprises", amount=Decimal("5000"))
    assert client.get(act_url(qbr, "refresh")).status_code == 200
    assert client.post(act_url(qbr, "refresh")).status_code == 302
    qbr.refresh_from_db()
    assert "Wayne Enterprises" in str(qbr.sections["pipeline"])

    response = client.post(act_url(qbr, "hold"), {"held_on": "2026-10-09"})
    assert response.status_code == 400
    assert "on the day it took place" in response.content.decode()
    assert client.post(act_url(qbr, "hold"), {"held_on": "8/10/2026x"}).status_code == 400
    assert client.post(act_url(qbr, "hold"), {"held_on": "2026-10-08"}).status_code == 302
    qbr.refresh_from_db()
    assert (qbr.status, qbr.held_on, qbr.held_by) == ("held", date(2026, 10, 8), manager)

    DealFactory(partner=qbr.partner, customer_name="Cyberdyne")
    response = client.post(act_url(qbr, "refresh"), follow=True)
    assert "it can no longer be refreshed" in response.content.decode()
    qbr.refresh_from_db()
    assert "Cyberdyne" not in str(qbr.sections)
    assert qbr.history.filter(history_change_reason="Held").exists()


def test_share_tells_the_partner_and_cancel_needs_a_reason(client, manager, qbr):
    client.force_login(manager)
    assert client.post(act_url(qbr, "share")).status_code == 302
    qbr.refresh_from_db()
    assert qbr.shared_with_partner and qbr.shared_at
    assert Notice.objects.filter(partner=qbr.partner, link__contains=str(qbr.pk)).count() == 1
    response = client.post(act_url(qbr, "cancel"), {"reason": ""})
    assert response.status_code == 400
    assert client.post(act_url(qbr, "cancel"), {"reason": "Moved to January"}).status_code == 302
    qbr.refresh_from_db()
    assert (qbr.status, qbr.cancel_reason) == ("cancelled", "Moved to January")
    page = client.get(change_url(qbr)).content.decode()
    assert 'id="id_action_items-TOTAL_FORMS"' in page and ">Refresh<" not in page
    assert 'value="0" id="id_action_items-MAX_NUM_FORMS"' in page  # no new items


def test_only_the_partners_managers_act(client, executive, other_manager, qbr):
    client.force_login(executive)
    assert client.get(change_url(qbr)).status_code == 200
    assert client.post(act_url(qbr, "hold"), {"held_on": "2026-10-08"}).status_code == 403
    assert client.post(change_url(qbr), form(qbr, notes="x")).status_code == 403
    client.force_login(other_manager)
    assert client.get(change_url(qbr)).status_code == 404  # outside their scope
    assert client.post(act_url(qbr, "share")).status_code == 404
    qbr.refresh_from_db()
    assert (qbr.status, qbr.shared_with_partner, qbr.notes) == ("scheduled", False, "")


def test_bulk_actions_refresh_hold_and_share(client, manager, qbr, qbr_clock):
    other = Qbr.objects.create(
        partner=PartnerFactory(channel_manager=manager),
        quarter="2026Q4",
        cadence="quarterly",
        scheduled_for=date(2026, 10, 6),
    )
    client.force_login(manager)
    url = reverse("admin:scoring_qbr_changelist")
    ids = [str(qbr.pk), str(other.pk)]
    response = client.post(
        url, {"action": "refresh_selected", "_selected_action": ids}, follow=True
    )
    assert "Refreshed 2 QBR(s)" in response.content.decode()
    other.refresh_from_db()
    assert other.prepared_at is not None
    client.post(url, {"action": "hold_selected", "_selected_action": ids})
    client.post(url, {"action": "share_selected", "_selected_action": ids})
    assert set(Qbr.objects.values_list("status", "shared_with_partner")) == {("held", True)}
    response = client.post(
        url, {"action": "refresh_selected", "_selected_action": ids}, follow=True
    )
    assert "2 held or cancelled kept their sections" in response.content.decode()


def test_a_qbr_added_in_the_admin_is_prepared(client, manager, partner_a, qbr_clock):
    client.force_login(manager)
    url = reverse("admin:scoring_qbr_add")
    data = {"partner": partner_a.pk, "quarter": "2026q4", "scheduled_for": "2026-10-14"}
    assert client.post(url, data).status_code == 302
    qbr = Qbr.objects.get(partner=partner_a)
    assert (qbr.quarter, qbr.cadence, bool(qbr.sections)) == ("2026Q4", "quarterly", True)
    again = client.post(url, data)
    assert again.status_code == 400
    assert "already has a QBR for 2026Q4" in again.content.decode()
    wrong = client.post(url, data | {"quarter": "2026Q5"})
    assert wrong.status_code == 400 and "write it like 2026Q3" in wrong.content.decode()
    late = client.post(url, data | {"quarter": "2027Q1"})
    assert late.status_code == 400 and "held in that quarter" in late.content.decode()


def test_admin_list_takes_a_fixed_number_of_queries(client, manager, django_assert_max_num_queries):
    for index in range(20):
        qbr = Qbr.objects.create(
            partner=PartnerFactory(channel_manager=manager),
            quarter="2026Q4",
            cadence="quarterly",
            scheduled_for=date(2026, 10, 20),
        )
        QbrActionItem.objects.create(qbr=qbr, text=f"Item {index}")
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("admin:scoring_qbr_changelist")).status_code == 200


def test_business_plans_in_the_admin(client, manager, partner_a, partner_b, qbr_clock):
    client.force_login(manager)
    url = reverse("admin:scoring_jointbusinessplan_add")
    data = {
        "partner": partner_a.pk,
        "fiscal_year": "2026",
        "revenue_goal": "250000",
        "target_accounts": "Initech\n\n  Umbrella  ",
        "planned_activities": "Webinar",
        "notes": "",
    }
    assert client.post(url, data | {"revenue_goal": "-5"}).status_code == 400
    assert client.post(url, data | {"fiscal_year": "26"}).status_code == 400
    other = client.post(url, data | {"partner": partner_b.pk})
    assert other.status_code == 400 and "Select a valid choice" in other.content.decode()
    assert client.post(url, data).status_code == 302
    plan = JointBusinessPlan.objects.get()
    assert (plan.revenue_goal, plan.target_account_lines, plan.updated_by) == (
        Decimal("250000.00"),
        ["Initech", "Umbrella"],
        manager,
    )
    duplicate = client.post(url, data)
    assert duplicate.status_code == 400
    page = client.get(reverse("admin:scoring_jointbusinessplan_change", args=[plan.pk]))
    assert "$0.00 of $250,000.00 (0%)" in page.content.decode()
