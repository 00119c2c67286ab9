"""Portal pages for registrations: the form and its live hint, the list, the detail."""

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import Deal
from tests.factories import AccountFactory, DealFactory, LeadFactory, WonDealFactory

pytestmark = pytest.mark.django_db

FORM = {
    "customer_name": "Hooli",
    "customer_domain": "hooli.example",
    "amount": "42000",
    "expected_close": "2027-02-01",
    "deal_type": "new_logo",
    "compensation_model": "reseller",
    "contract_years": "1",
    "notes": "",
}


def check(client, **params):
    response = client.get(reverse("portal-deal-check"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_hint_says_free_yours_or_taken_without_naming_anyone(client, a_rep, b_admin, partner_b):
    client.force_login(a_rep)
    assert 'data-state="free"' in check(client, customer_domain="hooli.example")
    DealFactory(partner=partner_b, account=AccountFactory(domain="hooli.example"))
    taken = check(client, customer_domain="https://www.hooli.example")
    assert 'data-state="taken"' in taken
    assert partner_b.name not in taken
    client.force_login(b_admin)
    assert 'data-state="yours"' in check(client, customer_domain="hooli.example")


def test_hint_warns_of_an_existing_lead_and_a_direct_relationship(client, a_rep):
    AccountFactory(domain="direct.example", direct_rep="ae@vendor.example")
    LeadFactory(domain="lead.example", created_at=timezone.now() - timedelta(days=1))
    client.force_login(a_rep)
    direct = check(client, customer_domain="direct.example")
    assert 'data-state="free"' in direct and "40%" in direct
    assert 'data-state="taken"' in check(client, customer_domain="lead.example")


def test_register_from_the_portal(client, a_rep, partner_a):
    client.force_login(a_rep)
    assert client.get(reverse("portal-deal-new")).status_code == 200
    response = client.post(reverse("portal-deal-new"), FORM)
    deal = Deal.objects.get()
    assert response.url == reverse("portal-deal", args=[deal.pk])
    assert (deal.partner, deal.submitted_by, deal.status) == (partner_a, a_rep, "pending")
    page = client.get(response.url).content.decode()
    assert "Pending approval" in page
    assert "Registered" in page  # history


def test_refusal_is_shown_in_words_and_the_form_is_kept(client, a_rep, partner_a):
    partner_a.agreement_signed_on = None
    partner_a.save()
    client.force_login(a_rep)
    response = client.post(reverse("portal-deal-new"), FORM)
    assert response.status_code == 400
    page = response.content.decode()
    assert "agreement has not been signed" in page
    assert 'value="Hooli"' in page
    assert not Deal.objects.exists()


def test_invalid_form_keeps_input_and_names_the_field(client, a_rep):
    client.force_login(a_rep)
    response = client.post(reverse("portal-deal-new"), dict(FORM, amount="lots"))
    assert response.status_code == 400
    assert "Enter a number" in response.content.decode()
    assert not Deal.objects.exists()


def test_rejected_registration_lands_on_its_page_with_the_reason(client, a_rep):
    LeadFactory(domain="hooli.example", created_at=timezone.now() - timedelta(hours=1))
    client.force_login(a_rep)
    response = client.post(reverse("portal-deal-new"), FORM, follow=True)
    page = response.content.decode()
    assert "Rejected" in page
    assert "already in our sales pipeline" in page


def test_extend_from_the_portal(client, a_rep, manager, partner_a):
    deal = services.deal_register(
        partner=partner_a,
        submitted_by=a_rep,
        customer_name="Hooli",
        customer_domain="hooli.example",
        amount="1000",
        expected_close=timezone.localdate(),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    deal = services.deal_approve(deal=deal, by=manager)
    client.force_login(a_rep)
    url = reverse("portal-deal-extend", args=[deal.pk])
    client.post(url, {"justification": "short"})
    deal.refresh_from_db()
    assert not deal.extended
    client.post(url, {"justification": "Customer's budget cycle ends in March"})
    deal.refresh_from_db()
    assert deal.extended
    page = client.get(reverse("portal-deal", args=[deal.pk])).content.decode()
    assert "already been extended" in page


def test_list_filters_by_status_and_query_count_is_flat(
    client, a_rep, partner_a, django_assert_max_num_queries
):
    DealFactory.create_batch(3, partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("portal-deals"))
    DealFactory.create_batch(20, partner=partner_a, status="rejected")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("portal-deals")).content.decode()
    assert page.count('text-bg-danger">Rejected') == 20
    only = client.get(reverse("portal-deals") + "?status=pending").content.decode()
    assert only.count('text-bg-warning">Pending approval') == 3


def test_detail_query_count_is_flat(
    client, a_rep, partner_a, manager, django_assert_max_num_queries
):
    deal = DealFactory(partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("portal-deal", args=[deal.pk])).status_code == 200


def test_the_second_partner_finds_a_notice_on_the_portal(client, a_rep, b_admin, partner_a):
    services.deal_register(
        partner=partner_a,
        submitted_by=a_rep,
        customer_name="Hooli",
        customer_domain="hooli.example",
        amount="1000",
        expected_close=timezone.localdate(),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    client.force_login(b_admin)
    client.post(reverse("portal-deal-new"), FORM)
    home = client.get(reverse("portal-home")).content.decode()
    assert 'data-testid="unread" title="New notices">1<' in home
    assert "Another partner registered this customer first" in home
    assert partner_a.name not in home
    again = client.get(reverse("portal-home")).content.decode()
    assert 'data-testid="unread"' not in again


def test_the_list_counts_the_days_of_protection_left(client, a_rep, partner_a):
    DealFactory(
        partner=partner_a,
        status="approved",
        approved_at=timezone.now(),
        expires_on=timezone.localdate() + timedelta(days=35),
    )
    client.force_login(a_rep)
    assert "35 days left" in client.get(reverse("portal-deals")).content.decode()


def test_a_won_deal_shows_its_won_amount_beside_the_credit(
    client, a_rep, partner_a, django_assert_max_num_queries
):
    # Registered at an estimated 40,000 and won at 55,000: the credit is more than the
    # registered amount, and the list says why.
    won = WonDealFactory(
        partner=partner_a,
        amount=D("40000"),
        closed_amount=D("55000"),
        partner_credit=D("55000"),
    )
    pending = DealFactory(partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(12) as few:
        page = client.get(reverse("portal-deals")).content.decode()
    assert "Estimated amount" in page and "$40,000" in page
    assert f'data-testid="won-{won.pk}">of $55,000 won<' in page
    assert f'data-testid="won-{pending.pk}"' not in page
    WonDealFactory.create_batch(10, partner=partner_a)
    with django_assert_max_num_queries(len(few.captured_queries)):  # read with the list
        assert client.get(reverse("portal-deals")).content.decode().count("won-") == 11


def test_the_list_pages_forward_and_back_without_counting_the_history(
    client, a_rep, partner_a, django_assert_max_num_queries
):
    DealFactory.create_batch(30, partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(12) as queries:
        first = client.get(reverse("portal-deals")).content.decode()
    assert not any(
        "COUNT(" in q["sql"] and "deals_deal" in q["sql"] for q in queries.captured_queries
    )
    assert first.count('data-testid="status-') == 25
    assert "page=2" in first and "Page 1<" in first
    second = client.get(reverse("portal-deals") + "?page=2").content.decode()
    assert second.count('data-testid="status-') == 5
    assert "page=1" in second and "page=3" not in second
    assert client.get(reverse("portal-deals") + "?page=x").status_code == 200


def test_each_person_reads_the_partners_notices_for_themselves(
    client, a_admin, a_rep, partner_a, django_assert_max_num_queries
):
    from partners.services import notice_send

    notice_send(partner=partner_a, text="Your Q3 rebate is approved")
    notice_send(partner=partner_a, user=a_rep, text="Andy: your certification lapses soon")

    def badge(user):
        client.force_login(user)
        page = client.get(reverse("portal-deals")).content.decode()
        found = re.search(r'data-testid="unread" title="New notices">(\d+)<', page)
        return int(found.group(1)) if found else 0

    assert (badge(a_admin), badge(a_rep)) == (1, 2)
    client.force_login(a_admin)
    home = client.get(reverse("portal-home")).content.decode()
    assert "Your Q3 rebate is approved" in home and "certification lapses" not in home
    assert (badge(a_admin), badge(a_rep)) == (0, 2)  # read by Alice, still new to Andy
    client.force_login(a_rep)
    client.get(reverse("portal-home"))
    assert (badge(a_admin), badge(a_rep)) == (0, 0)
    for i in range(12):  # marking a dozen read costs what marking one does
        notice_send(partner=partner_a, text=f"Course {i} is out")
    with django_assert_max_num_queries(16):
        client.get(reverse("portal-home"))
    assert (badge(a_admin), badge(a_rep)) == (12, 0)

    from partners.services import notices_mark_read

    shown_until = timezone.now()
    notice_send(partner=partner_a, text="Sent while the page was drawn")
    notices_mark_read(user=a_rep, partner=partner_a, up_to=shown_until)
    assert badge(a_rep) == 1  # not seen: still new


def test_the_unread_badge_counts_to_99_then_says_99_plus(client, a_rep, partner_a):
    from partners.models import Notice

    Notice.objects.bulk_create(Notice(partner=partner_a, text=f"Notice {i}") for i in range(99))
    client.force_login(a_rep)
    page = client.get(reverse("portal-deals")).content.decode()
    assert 'data-testid="unread" title="New notices">99<' in page
    Notice.objects.create(partner=partner_a, user=a_rep, text="One more, for Andy")
    page = client.get(reverse("portal-deals")).content.decode()
    assert 'data-testid="unread" title="New notices">99+<' in page


def test_the_badge_counts_notices_for_everyone_and_for_this_person_not_for_colleagues(
    a_admin, a_rep, partner_a, partner_b, django_assert_num_queries
):
    from partners.models import Notice
    from partners.queries import UNREAD_BADGE_MAX, unread_notice_count

    Notice.objects.bulk_create(
        [Notice(partner=partner_a, user=a_admin, text=f"For Alice {i}") for i in range(150)]
        + [Notice(partner=partner_a, text=f"For all {i}") for i in range(3)]
        + [Notice(partner=partner_a, user=a_rep, text=f"For Andy {i}") for i in range(2)]
        + [Notice(partner=partner_b, text=f"Elsewhere {i}") for i in range(5)]
    )
    with django_assert_num_queries(1):  # both ranges, bounded, in one statement
        assert unread_notice_count(a_rep, partner_a.pk) == 5
    # counted up to one past the badge's most, whichever part the notices are in
    assert unread_notice_count(a_admin, partner_a.pk) == UNREAD_BADGE_MAX + 1
    Notice.objects.bulk_create(Notice(partner=partner_a, text=f"News {i}") for i in range(120))
    assert unread_notice_count(a_rep, partner_a.pk) == UNREAD_BADGE_MAX + 1


def test_each_line_of_the_list_links_to_its_deal_and_shows_its_state(client, a_rep, partner_a):
    """The list formats its lines in Python: same links, badges and protection as before."""
    approved = DealFactory(
        partner=partner_a,
        status="approved",
        approved_at=timezone.now(),
        expires_on=timezone.localdate() + timedelta(days=30),
    )
    held = DealFactory(partner=partner_a, needs_review=True, review_reason="same_name")
    client.force_login(a_rep)
    page = client.get(reverse("portal-deals")).content.decode()
    for deal in (approved, held):
        assert f'href="{reverse("portal-deal", args=[deal.pk])}"' in page
    assert (
        f'data-testid="status-{approved.pk}"><span class="badge text-bg-success">Approved<' in page
    )
    assert (
        f'data-testid="status-{held.pk}"><span class="badge text-bg-info" title="A channel' in page
    )
    assert "days left</span>" in page and "Protected until " in page
    client.post(reverse("set_language"), {"language": "zh-hans"})
    page = client.get(reverse("portal-deals")).content.decode()
    assert "已批准" in page or "已核准" in page
