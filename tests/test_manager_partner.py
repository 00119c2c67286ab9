"""The partner 360 page (/manager/partners/<id>/) and the managers' internal notes."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from incentives.models import IncentiveClaim
from partners.models import ManagerNote, TierChange
from partners.services.notes import manager_note_add
from scoring.models import JointBusinessPlan, Qbr
from tests.factories import (
    ConflictCaseFactory,
    DealFactory,
    LedgerEntryFactory,
    MdfRequestFactory,
    PartnerUserFactory,
    RedFlagFactory,
    ScorecardFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


def url(partner) -> str:
    return reverse("manager-partner", args=[partner.pk])


def _history(partner, n: int, *, start: int = 0) -> None:
    """``n`` rows of every section of the page (numbered from ``start``)."""
    for i in range(start, start + n):
        PartnerUserFactory(partner=partner)
        DealFactory(partner=partner, customer_name=f"Open customer {i}")
        WonDealFactory(partner=partner, customer_name=f"Won customer {i}")
        entry = LedgerEntryFactory(partner=partner)
        IncentiveClaim.objects.create(
            partner=partner, amount=entry.amount, verify_by=date(2026, 12, 1)
        )
        MdfRequestFactory(fund__partner=partner, fund__fiscal_year=2000 + i)
        RedFlagFactory(
            partner=partner,
            kind=["no_recent_deal", "low_csat", "cert_lapsed"][i % 3],
            status="open" if i < 3 else "resolved",  # one open flag of a kind
        )
        ConflictCaseFactory(partner=partner)
        ScorecardFactory(partner=partner, quarter=f"{2010 + i}Q1")
        TierChange.objects.create(
            partner=partner, to_tier=partner.tier, cause="override", reason=f"Reason {i}"
        )
        Qbr.objects.create(
            partner=partner,
            quarter=f"{2010 + i}Q2",
            cadence="quarterly",
            scheduled_for=date.today(),
        )
        JointBusinessPlan.objects.create(
            partner=partner, fiscal_year=2000 + i, revenue_goal=Decimal("100000")
        )
        ManagerNote.objects.create(partner=partner, author=partner.channel_manager, text=f"n{i}")


def test_manager_sees_every_section_of_their_partner(client, manager, partner_a):
    _history(partner_a, 1)
    client.force_login(manager)
    response = client.get(url(partner_a))
    assert response.status_code == 200
    page = response.content.decode()
    for testid in (
        "contacts",
        "tiers",
        "scorecards",
        "open-deals",
        "recent-deals",
        "ledger",
        "claims",
        "mdf",
        "flags",
        "qbrs",
        "plans",
        "notes",
    ):
        assert f'data-testid="p360-{testid}"' in page
    assert "Open customer 0" in page and "Won customer 0" in page
    assert "Reason 0" in page  # the tier change's reason
    assert "$50,000.00" in page  # money the one way: symbol, separators, two decimals
    assert "Your Silver benefits" not in page  # not the partner's own home
    assert 'data-testid="note-form"' in page


def test_query_count_does_not_grow_with_the_partners_history(
    client, manager, partner_a, django_assert_max_num_queries
):
    _history(partner_a, 1)
    client.force_login(manager)
    with django_assert_max_num_queries(40) as small:
        assert client.get(url(partner_a)).status_code == 200
    _history(partner_a, 12, start=1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url(partner_a)).status_code == 200


def test_another_managers_partner_is_404(client, manager, partner_b):
    client.force_login(manager)
    assert client.get(url(partner_b)).status_code == 404
    assert client.post(url(partner_b), {"text": "Hello"}).status_code == 404
    assert not ManagerNote.objects.exists()


def test_partner_people_get_404_even_for_their_own_partner(client, a_admin, partner_a):
    client.force_login(a_admin)
    assert client.get(url(partner_a)).status_code == 404
    assert client.post(url(partner_a), {"text": "Hello"}).status_code == 404


def test_executive_reads_the_page_without_the_note_form_and_may_not_post(
    client, executive, partner_a
):
    client.force_login(executive)
    response = client.get(url(partner_a))
    assert response.status_code == 200
    assert 'data-testid="note-form"' not in response.content.decode()
    assert client.post(url(partner_a), {"text": "Hello"}).status_code == 403
    assert not ManagerNote.objects.exists()


def test_manager_adds_a_note_to_the_timeline(client, manager, partner_a):
    client.force_login(manager)
    response = client.post(url(partner_a), {"text": "  Called Ann: pipeline review on Friday. "})
    assert response.status_code == 302
    note = ManagerNote.objects.get()
    assert (note.partner, note.author, note.text) == (
        partner_a,
        manager,
        "Called Ann: pipeline review on Friday.",
    )
    page = client.get(url(partner_a)).content.decode()
    assert "Called Ann: pipeline review on Friday." in page


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Write the note before adding it."),
        ("   ", "Write the note before adding it."),
        ("x" * 4001, "at most 4000 characters"),
    ],
)
def test_bad_note_is_a_400_with_a_message_and_keeps_the_text(
    client, manager, partner_a, text, message
):
    client.force_login(manager)
    response = client.post(url(partner_a), {"text": text})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    if text.strip():
        assert text in page  # nothing typed is lost
    assert not ManagerNote.objects.exists()


def test_note_post_with_unexpected_shapes_is_never_a_500(client, manager, partner_a):
    client.force_login(manager)
    assert client.post(url(partner_a), {}).status_code == 400
    assert (
        client.post(url(partner_a), data="{}", content_type="application/json").status_code == 400
    )
    assert client.post(url(partner_a), {"text": "a\x00b"}).status_code == 400


def test_notes_are_never_shown_to_the_partner(client, api, manager, a_admin, partner_a):
    manager_note_add(partner=partner_a, by=manager, text="Internal: churn risk")
    client.force_login(a_admin)
    for name, args in (("portal-home", []), ("portal-partner", [partner_a.pk])):
        assert "churn risk" not in client.get(reverse(name, args=args)).content.decode()
    response = api(a_admin).get(f"/api/v1/partners/{partner_a.pk}/")
    assert response.status_code == 200
    assert "churn risk" not in response.content.decode()


def test_only_managers_of_the_partner_add_notes(manager, other_manager, executive, partner_a):
    for person in (other_manager, executive):
        with pytest.raises(PermissionDenied):
            manager_note_add(partner=partner_a, by=person, text="Hello")
    with pytest.raises(ValidationError):
        manager_note_add(partner=partner_a, by=manager, text=" ")
    assert not ManagerNote.objects.exists()


def test_manager_home_links_to_the_360_page(client, manager, partner_a):
    client.force_login(manager)
    assert url(partner_a) in client.get(reverse("manager-home")).content.decode()


def test_partner_change_page_links_to_the_360_page(client, manager, partner_a):
    client.force_login(manager)
    page = client.get(reverse("admin:partners_partner_change", args=[partner_a.pk]))
    assert url(partner_a) in page.content.decode()


def test_gold_partner_header(client, chief, partner_b):
    partner_b.tier = default_tier("gold")
    client.force_login(chief)
    assert "Gold" in client.get(url(partner_b)).content.decode()


def test_every_link_to_a_full_admin_list_opens_that_partners_rows(client, manager, partner_a):
    import html
    import re

    _history(partner_a, 1)
    client.force_login(manager)
    page = client.get(url(partner_a)).content.decode()
    links = {html.unescape(h) for h in re.findall(r'href="(/admin/[^"]*\?[^"]*)"', page)}
    assert len(links) >= 11
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link  # an unknown lookup would redirect (?e=1)
        rows = list(response.context["cl"].result_list)
        assert rows, link
        assert {row.partner_id for row in rows} == {partner_a.pk}, link
