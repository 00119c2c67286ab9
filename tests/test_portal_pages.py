"""The portal's home pages: each role lands on its own, with real figures."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    CertificationFactory,
    DealFactory,
    PartnerFactory,
    PartnerUserFactory,
    WonDealFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "landing"),
    [
        ("a_rep", "portal-home"),
        ("manager", "manager-home"),
        ("chief", "executive-home"),
        ("executive", "executive-home"),
        ("vendor_admin", "executive-home"),
    ],
)
def test_each_role_lands_on_its_home(client, request, who, landing):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == reverse(landing)
    assert client.get(response.url).status_code == 200


def test_anonymous_is_sent_to_login(client):
    assert client.get("/").url == reverse("account_login")
    response = client.get(reverse("portal-home"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_partner_home_shows_tier_benefits_and_real_progress(client, a_rep, partner_a):
    today = timezone.localdate()
    # 12-month revenue: two wins inside the window, one outside, one direct-conflict share.
    WonDealFactory(partner=partner_a, partner_credit=Decimal("120000"), closed_on=today)
    WonDealFactory(
        partner=partner_a, partner_credit=Decimal("30001.00"), closed_on=today - timedelta(days=300)
    )
    WonDealFactory(
        partner=partner_a, partner_credit=Decimal("999999"), closed_on=today - timedelta(days=400)
    )
    DealFactory(partner=partner_a)  # pending: pipeline, not revenue
    CertificationFactory(partner=partner_a, user=a_rep)
    expired = PartnerUserFactory(partner=partner_a).user
    CertificationFactory(
        partner=partner_a,
        user=expired,
        issued_on=today - timedelta(days=800),
        expires_on=today - timedelta(days=1),
    )
    client.force_login(a_rep)
    page = client.get(reverse("portal-home")).content.decode()
    assert "Alpha Systems" in page
    assert 'data-testid="tier">Silver<' in page
    assert "20%" in page  # silver margin
    assert "2% of prior-year revenue" in page
    assert "Dedicated customer success manager" in page
    # Progress to gold: $150,001 of $200,000 revenue; 1 of 2 certified reps.
    assert "$150,001 of $200,000" in page
    assert "$49,999 to go" in page
    assert "1 of 2" in page
    assert "Progress to Gold" in page


def test_top_tier_partner_sees_no_next_tier(client, partner_b, b_admin):
    partner_b.tier = default_tier("platinum")
    partner_b.save()
    client.force_login(b_admin)
    page = client.get(reverse("portal-home")).content.decode()
    assert "You are at the top tier" in page


def test_staff_open_a_partners_page_in_scope(client, manager, partner_a, partner_b):
    client.force_login(manager)
    # Staff read a partner on its partner 360 page, not on the partner's own home.
    response = client.get(reverse("portal-partner", args=[partner_a.pk]))
    assert response.status_code == 302
    assert response.url == reverse("manager-partner", args=[partner_a.pk])
    assert client.get(reverse("portal-partner", args=[partner_b.pk])).status_code == 404


def test_partner_user_cannot_open_manager_or_executive_pages(client, a_admin):
    client.force_login(a_admin)
    assert client.get(reverse("manager-home")).status_code == 403
    assert client.get(reverse("executive-home")).status_code == 403


def test_manager_sees_only_assigned_partners(client, manager, partner_a, partner_b):
    client.force_login(manager)
    page = client.get(reverse("manager-home")).content.decode()
    assert "Alpha Systems" in page
    assert "Bravo Networks" not in page


def test_manager_home_flags_partners_below_their_tier(client, manager, partner_a):
    # Silver needs $50,000 and one certified rep; partner A has neither.
    client.force_login(manager)
    response = client.get(reverse("manager-home"))
    assert [row["partner"] for row in response.context["at_risk"]] == [partner_a]


def test_manager_home_pages_through_every_partner(client, chief, manager):
    from scoring import views

    names = sorted(PartnerFactory(channel_manager=manager).name for _ in range(5))
    original = views.MANAGER_PAGE
    views.MANAGER_PAGE = 2
    try:
        client.force_login(chief)
        seen = []
        for number in (1, 2, 3):
            response = client.get(reverse("manager-home"), {"page": number})
            assert response.context["page"].paginator.count == 5
            seen += [row["partner"].name for row in response.context["rows"]]
        # A page past the end, or not a number, is answered with a page, not an error.
        assert client.get(reverse("manager-home"), {"page": "99"}).status_code == 200
        assert client.get(reverse("manager-home"), {"page": "x"}).status_code == 200
    finally:
        views.MANAGER_PAGE = original
    assert seen == names
    page = response.content.decode()
    assert "Page 3 of 3" in page and "partners 5–5" in page


def _many_partners(manager, count):
    for _ in range(count):
        partner = PartnerFactory(channel_manager=manager, tier=default_tier("gold"))
        CertificationFactory(partner=partner)
        WonDealFactory(partner=partner)
        DealFactory(partner=partner)


@pytest.mark.parametrize("name", ["manager-home", "executive-home"])
def test_home_query_counts_do_not_grow_with_partners(
    client, chief, manager, name, django_assert_max_num_queries
):
    _many_partners(manager, 5)
    client.force_login(chief)
    with django_assert_max_num_queries(40) as small:
        client.get(reverse(name))
    _many_partners(manager, 25)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse(name)).status_code == 200


def test_partner_home_query_count_is_flat(client, a_rep, partner_a, django_assert_max_num_queries):
    for _ in range(30):
        WonDealFactory(partner=partner_a)
        CertificationFactory(partner=partner_a)
    client.force_login(a_rep)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("portal-home")).status_code == 200


def test_executive_home_counts_the_pyramid(client, executive):
    for slug, count in {"registered": 4, "silver": 3, "gold": 2, "platinum": 1}.items():
        PartnerFactory.create_batch(count, tier=default_tier(slug))
    PartnerFactory(tier=default_tier("gold"), status="exited")
    client.force_login(executive)
    response = client.get(reverse("executive-home"))
    figures = response.context["f"]
    pyramid = {row["name"]: row["partners"] for row in figures["tiers"]}
    assert pyramid == {"Platinum": 1, "Gold": 2, "Silver": 3, "Registered": 4}
    assert figures["ecosystem"]["active_partners"] == 10
    assert figures["program"]["pyramid"]["registered_per_gold"] == 2


def test_api_docs_and_schema_are_served_without_a_cdn(client, a_rep):
    client.force_login(a_rep)
    docs = client.get(reverse("api-docs")).content.decode()
    assert "/static/vendor/swagger-ui/" in docs
    assert "cdn" not in docs.lower()
    assert client.get(reverse("schema")).status_code == 200


def test_the_navigation_links_follow_the_prefix_the_site_is_served_under(rf):
    from django.urls import set_script_prefix

    from prm.context_processors import NAV_PAGES, roles

    try:
        set_script_prefix("/prm/")
        served = roles(rf.get("/"))["urls"]
        assert served["portal_deals"] == reverse("portal-deals") == "/prm/portal/deals/"
    finally:
        set_script_prefix("/")
    assert roles(rf.get("/"))["urls"]["portal_deals"] == "/portal/deals/"
    assert len(served) == len(NAV_PAGES)
