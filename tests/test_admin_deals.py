"""The approval queue in the admin: scope, SLA column and filter, bulk decisions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from deals.models import ConflictCase, Deal
from tests.factories import ConflictCaseFactory, DealFactory, PartnerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:deals_deal_changelist"


def test_queue_shows_only_the_managers_partners_with_an_sla_countdown(
    client, manager, partner_a, partner_b
):
    DealFactory(
        partner=partner_a, customer_name="Ours", submitted_at=timezone.now() - timedelta(hours=40)
    )
    DealFactory(partner=partner_b, customer_name="Theirs")
    client.force_login(manager)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "Ours" in page and "Theirs" not in page
    assert "7 h 59 min left" in page or "8 h 00 min left" in page


def test_sla_filter_finds_overdue_registrations(client, chief, partner_a):
    DealFactory(
        partner=partner_a, customer_name="Late", submitted_at=timezone.now() - timedelta(hours=50)
    )
    DealFactory(
        partner=partner_a, customer_name="Fresh", submitted_at=timezone.now() - timedelta(hours=1)
    )
    client.force_login(chief)
    page = client.get(reverse(CHANGELIST) + "?sla=overdue").content.decode()
    assert "Late" in page and "Fresh" not in page
    assert "overdue" in page


def test_bulk_approve_and_reject_with_a_reason(client, manager, partner_a, partner_b):
    mine = DealFactory.create_batch(2, partner=partner_a)
    theirs = DealFactory(partner=partner_b)
    client.force_login(manager)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [d.pk for d in mine] + [theirs.pk]},
    )
    assert response.status_code == 302
    assert set(Deal.objects.filter(partner=partner_a).values_list("status", flat=True)) == {
        "approved"
    }
    assert Deal.objects.get(pk=theirs.pk).status == "pending"

    pending = DealFactory(partner=partner_a)
    ask = client.post(
        reverse(CHANGELIST), {"action": "reject_selected", "_selected_action": [pending.pk]}
    )
    assert ask.status_code == 200
    assert "reason" in ask.content.decode()
    client.post(
        reverse(CHANGELIST),
        {
            "action": "reject_selected",
            "_selected_action": [pending.pk],
            "reason": "Not a real opportunity",
        },
    )
    pending.refresh_from_db()
    assert (pending.status, pending.reason_note) == ("rejected", "Not a real opportunity")


def test_executive_sees_the_queue_but_cannot_decide(client, executive, partner_a):
    deal = DealFactory(partner=partner_a)
    client.force_login(executive)
    assert client.get(reverse(CHANGELIST)).status_code == 200
    client.post(reverse(CHANGELIST), {"action": "approve_selected", "_selected_action": [deal.pk]})
    deal.refresh_from_db()
    assert deal.status == "pending"
    decide = reverse("admin:deals_deal_decide", args=[deal.pk, "approve"])
    assert client.post(decide).status_code == 403


def test_record_a_win_from_the_deal_page(client, manager, partner_a):
    deal = DealFactory(partner=partner_a)
    client.force_login(manager)
    page = client.get(reverse("admin:deals_deal_change", args=[deal.pk])).content.decode()
    assert reverse("admin:deals_deal_decide", args=[deal.pk, "win"]) in page
    url = reverse("admin:deals_deal_decide", args=[deal.pk, "win"])
    bad = client.post(url, {"amount": "", "closed_on": "tomorrow"})
    assert bad.status_code == 400  # sent back with its errors
    future = client.post(
        url, {"amount": "100", "closed_on": str(timezone.localdate() + timedelta(days=3))}
    )
    assert "future" in future.content.decode()
    ok = client.post(
        url, {"amount": "1000.00", "closed_on": str(timezone.localdate()), "csat": "4"}
    )
    assert ok.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.csat) == ("won", 4)


def test_manager_cannot_decide_another_managers_deal(client, manager, partner_b):
    deal = DealFactory(partner=partner_b)
    client.force_login(manager)
    assert (
        client.get(reverse("admin:deals_deal_decide", args=[deal.pk, "approve"])).status_code == 404
    )


def test_conflict_cases_resolve_in_bulk(client, manager, partner_a):
    case = ConflictCaseFactory(partner=partner_a)
    client.force_login(manager)
    url = reverse("admin:deals_conflictcase_changelist")
    assert " left" in client.get(url).content.decode()  # the SLA countdown
    client.post(
        url,
        {"action": "resolve_selected", "_selected_action": [case.pk], "resolution": "Agreed split"},
    )
    case.refresh_from_db()
    assert case.status == ConflictCase.Status.RESOLVED


@pytest.mark.parametrize("name", [CHANGELIST, "admin:deals_conflictcase_changelist"])
def test_admin_query_counts_are_flat(client, chief, name, django_assert_max_num_queries):
    for _ in range(3):
        ConflictCaseFactory(partner=PartnerFactory())
    client.force_login(chief)
    with django_assert_max_num_queries(30) as few:
        client.get(reverse(name))
    for _ in range(25):
        ConflictCaseFactory(partner=PartnerFactory())
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        assert client.get(reverse(name)).status_code == 200
