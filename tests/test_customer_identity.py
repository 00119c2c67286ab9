"""First to register wins, whatever the spelling (RULEBOOK §4): the customer is its
registrable domain; a probable same customer of another partner's is held for a manager,
who decides; an unrelated company is never held."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from deals import services
from deals.models import ConflictCase, ConflictScenario, Deal
from partners.models import Account, Notice
from tests.factories import LeadFactory, PartnerFactory, PartnerUserFactory, default_tier

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def register(partner, user=None, **overrides):
    fields = {
        "customer_name": "Globex Corporation",
        "customer_domain": "globex.example",
        "amount": "100000.00",
        "expected_close": date(2026, 6, 30),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    fields.update(overrides)
    return services.deal_register(partner=partner, submitted_by=user, **fields)


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rep_a(partner_a):
    return PartnerUserFactory(partner=partner_a).user


@pytest.fixture
def rep_b(partner_b):
    return PartnerUserFactory(partner=partner_b).user


@pytest.fixture
def partner_c(manager):
    return PartnerFactory(name="Charlie Ltd", tier=default_tier("silver"), channel_manager=manager)


# ---------------------------------------------------------------- the same customer


@pytest.mark.parametrize(
    ("held", "attempt"),
    [
        ("globex.example", "eu.globex.example"),
        ("globex.example", "a.b.globex.example"),
        ("eu.globex.example", "globex.example"),
        ("globex.co.uk", "shop.globex.co.uk"),
        ("globex.example", "https://www.globex.example/contact"),
        ("globex.example", "sales@emea.globex.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "BÜCHER.example"),
    ],
)
def test_another_spelling_of_a_held_domain_is_the_same_customer(
    partner_a, partner_b, rep_a, rep_b, now, held, attempt
):
    first = register(partner_a, rep_a, customer_domain=held)
    second = register(partner_b, rep_b, customer_name="Whoever", customer_domain=attempt)
    assert second.account_id == first.account_id
    assert (second.status, second.reason) == ("rejected", "registered_by_another_partner")


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad", "\u200d", "\u2060", "\ufeff"])
def test_a_domain_with_an_invisible_character_is_refused_and_nothing_is_stored(
    partner_a, partner_b, rep_a, rep_b, now, invisible
):
    register(partner_a, rep_a)
    with pytest.raises(ValidationError) as refused:
        register(partner_b, rep_b, customer_domain=f"glo{invisible}bex.example")
    assert "not a domain" in refused.value.message_dict["customer_domain"][0]
    assert Deal.objects.filter(partner=partner_b).count() == 0


@pytest.mark.parametrize("attempt", ["co.uk", "localhost", "10.0.0.1", "ex_ample.com"])
def test_what_is_not_a_domain_is_refused(partner_a, rep_a, now, attempt):
    with pytest.raises(ValidationError) as refused:
        register(partner_a, rep_a, customer_domain=attempt)
    assert "customer_domain" in refused.value.message_dict
    assert not Deal.objects.exists()


# ---------------------------------------------------------------- a probable same customer


PROBABLE = [
    # (held name, held domain, attempted name, attempted domain, reason)
    ("Globex Corporation", "globex.example", "Globex Inc", "globex-corp.example", "same_name"),
    ("Globex Corporation", "globex.com", "Other Name", "globex.de", "other_suffix"),
    ("Globex Corporation", "globex.co.uk", "Other Name", "globex.com", "other_suffix"),
    ("Globex Corporation", "globex.example", "Other Name", "gl\u043ebex.example", "confusable"),
    ("Globex Corporation", "globex.example", "Other Name", "g1obex.example", "confusable"),
    ("Acme Robotics", "", "\u0410cme Robotics", "", "confusable"),
    ("Globex Corporation", "globex.example", "Globex (EMEA)", "globex-emea.example", "regional"),
    ("Globex Holdings", "globex.example", "Globex Deutschland GmbH", "globex.net", "other_suffix"),
    ("Initech Group", "initech.example", "Initech International", "initech-intl.example", "re"),
]


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize(("held_name", "held_domain", "name", "domain", "why"), PROBABLE)
def test_a_probable_same_customer_is_held_for_review_both_ways(
    partner_a, partner_b, rep_a, rep_b, now, held_name, held_domain, name, domain, why, direction
):
    if direction == "backward":
        held_name, held_domain, name, domain = name, domain, held_name, held_domain
    first = register(partner_a, rep_a, customer_name=held_name, customer_domain=held_domain)
    second = register(partner_b, rep_b, customer_name=name, customer_domain=domain)
    assert second.account_id != first.account_id
    assert (second.status, second.needs_review) == ("pending", True)
    assert second.review_match_id == first.pk
    assert second.review_reason.startswith(why[:2])


@pytest.mark.parametrize(
    ("held", "attempt"),
    [
        (("Global Logistics", "globallogistics.example"), ("Global Foods", "globalfoods.example")),
        (("Acme", "acme.example"), ("Acme Foods", "acmefoods.example")),
        (("Globex Corporation", "globex.example"), ("Initech", "initech.example")),
        (("Acme", ""), ("Acne", "")),
        (("Northwind Traders", "northwind.example"), ("Southwind Traders", "southwind.example")),
    ],
)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_unrelated_companies_are_never_held(
    partner_a, partner_b, rep_a, rep_b, now, held, attempt, direction
):
    if direction == "backward":
        held, attempt = attempt, held
    register(partner_a, rep_a, customer_name=held[0], customer_domain=held[1])
    deal = register(partner_b, rep_b, customer_name=attempt[0], customer_domain=attempt[1])
    assert (deal.status, deal.needs_review, deal.review_reason) == ("pending", False, "")


def test_a_partners_own_look_alike_registrations_are_not_held(partner_a, rep_a, now):
    register(partner_a, rep_a, customer_domain="globex.com")
    deal = register(partner_a, rep_a, customer_domain="globex.de")
    assert (deal.status, deal.needs_review) == ("pending", False)


def test_a_lapsed_or_closed_registration_holds_nothing(partner_a, partner_b, rep_a, rep_b, now):
    first = register(partner_a, rep_a, customer_domain="globex.com")
    services.deal_lose(deal=first, by=None)
    deal = register(partner_b, rep_b, customer_domain="globex.de")
    assert deal.needs_review is False


def test_a_held_registration_is_never_approved_automatically(
    partner_a, partner_b, rep_a, rep_b, now
):
    register(partner_a, rep_a, customer_domain="globex.com")
    held = register(partner_b, rep_b, customer_domain="globex.de")
    now.shift(timedelta(hours=200))
    services.deals_auto_approve()
    held.refresh_from_db()
    assert (held.status, held.needs_review) == ("pending", True)
    with pytest.raises(services.DealError):
        services.deal_approve(deal=held, by=None, auto=True)


def test_holding_opens_a_two_partner_case_and_tells_the_manager(
    partner_a,
    partner_b,
    rep_a,
    rep_b,
    now,
    mailoutbox,
    queued_mail,
    django_capture_on_commit_callbacks,
):
    first = register(partner_a, rep_a, customer_domain="globex.com")
    with django_capture_on_commit_callbacks(execute=True):
        held = register(partner_b, rep_b, customer_domain="globex.de")
    queued_mail()
    case = ConflictCase.objects.get(deal=held)
    assert case.scenario == ConflictScenario.TWO_PARTNERS
    assert (case.other_deal, case.status) == (first, "open")
    assert case.sla_due_at == T0 + timedelta(hours=24)
    to_manager = [m for m in mailoutbox if partner_b.channel_manager.email in m.to]
    assert "held for your review" in to_manager[-1].subject
    assert partner_a.name in to_manager[-1].body


def test_the_partner_is_told_it_is_under_review_never_who_holds_it(
    partner_a, partner_b, rep_a, rep_b, now
):
    register(partner_a, rep_a, customer_domain="globex.com")
    register(partner_b, rep_b, customer_domain="globex.de")
    notice = Notice.objects.filter(partner=partner_b).latest("pk")
    assert "under review" in notice.text
    assert partner_a.name not in notice.text


# ---------------------------------------------------------------- the manager decides


@pytest.fixture
def held(partner_a, partner_b, rep_a, rep_b, now):
    first = register(partner_a, rep_a, customer_domain="globex.com")
    return first, register(partner_b, rep_b, customer_domain="globex.de")


def test_a_separate_customer_is_approved_and_remembered(held, other_manager, partner_b, rep_b):
    first, deal = held
    decided = services.deal_review_decide(deal=deal, by=other_manager, same_customer=False)
    assert (decided.status, decided.needs_review) == ("approved", False)
    assert decided.approved_by == other_manager
    assert deal.account.separate_from.filter(pk=first.account_id).exists()
    assert ConflictCase.objects.get(deal=deal).status == "resolved"
    # The pair is not held again: partner B registers the same customer once more.
    services.deal_lose(deal=decided, by=other_manager)
    again = register(partner_b, rep_b, customer_domain="globex.de")
    assert (again.status, again.needs_review) == ("pending", False)


def test_the_same_customer_is_rejected_and_its_spelling_leads_to_the_holder(
    held, other_manager, partner_b, partner_c, manager
):
    first, deal = held
    decided = services.deal_review_decide(deal=deal, by=other_manager, same_customer=True)
    assert (decided.status, decided.reason) == ("rejected", "registered_by_another_partner")
    assert decided.needs_review is False
    assert decided.account_id == first.account_id  # moved onto the holder's account
    alias = Account.objects.get(domain_key="globex.de")
    assert alias.merged_into_id == first.account_id
    notice = Notice.objects.filter(partner=partner_b).latest("pk")
    assert partner_b.name not in notice.text and "Another partner" in notice.text
    # The next partner typing that spelling meets first-to-register at once.
    third = register(partner_c, customer_domain="globex.de", customer_name="Globex GmbH")
    assert (third.status, third.reason) == ("rejected", "registered_by_another_partner")
    assert third.account_id == first.account_id


def test_approving_or_rejecting_a_held_registration_decides_it_too(held, other_manager):
    _, deal = held
    services.deal_reject(deal=deal, by=other_manager, reason="Not a real opportunity")
    deal.refresh_from_db()
    assert (deal.status, deal.needs_review) == ("rejected", False)
    assert ConflictCase.objects.get(deal=deal).status == "resolved"


def test_only_a_held_registration_can_be_reviewed(partner_a, rep_a, manager, now):
    deal = register(partner_a, rep_a)
    with pytest.raises(services.DealError) as refused:
        services.deal_review_decide(deal=deal, by=manager, same_customer=True)
    assert refused.value.code == "not_under_review"


# ---------------------------------------------------------------- every face


def test_api_shows_the_match_to_managers_and_hides_it_from_partners(
    api, held, b_admin, other_manager, partner_a
):
    first, deal = held
    url = f"/api/v1/deals/{deal.pk}/"
    mine = api(b_admin).get(url).json()
    assert (mine["needs_review"], mine["review_reason"], mine["review_match"]) == (
        True,
        "other_suffix",
        None,
    )
    assert partner_a.name not in str(mine)
    theirs = api(other_manager).get(url).json()
    assert theirs["review_match"]["deal"] == first.pk
    assert theirs["review_match"]["partner_name"] == partner_a.name
    listed = api(other_manager).get("/api/v1/deals/?needs_review=true").json()["results"]
    assert [row["id"] for row in listed] == [deal.pk]


@pytest.mark.parametrize(("decision", "status"), [("separate", "approved"), ("same", "rejected")])
def test_api_review_decides(api, held, other_manager, decision, status):
    _, deal = held
    answer = api(other_manager).post(
        f"/api/v1/deals/{deal.pk}/review/", {"decision": decision}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == status


def test_api_review_is_for_the_partners_managers_only(api, held, manager, b_admin):
    _, deal = held
    url = f"/api/v1/deals/{deal.pk}/review/"
    assert api(manager).post(url, {"decision": "same"}, format="json").status_code == 404
    assert api(b_admin).post(url, {"decision": "same"}, format="json").status_code == 403
    bad = api(deal.partner.channel_manager).post(url, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400
    deal.refresh_from_db()
    assert deal.needs_review


def test_portal_detail_shows_the_match_to_the_manager_only(
    client, held, b_admin, other_manager, partner_a
):
    _, deal = held
    url = reverse("portal-deal", args=[deal.pk])
    client.force_login(b_admin)
    page = client.get(url).content.decode()
    assert "Under review" in page and partner_a.name not in page
    client.force_login(other_manager)
    page = client.get(url).content.decode()
    assert partner_a.name in page and 'data-testid="review"' in page
    answer = client.post(reverse("portal-deal-review", args=[deal.pk]), {"decision": "same"})
    assert answer.status_code == 302
    deal.refresh_from_db()
    assert deal.status == "rejected"


def test_portal_review_refuses_partners_and_other_managers(client, held, b_admin, manager):
    _, deal = held
    url = reverse("portal-deal-review", args=[deal.pk])
    client.force_login(b_admin)
    assert client.post(url, {"decision": "separate"}).status_code == 403
    client.force_login(manager)  # not partner B's manager
    assert client.post(url, {"decision": "separate"}).status_code == 404
    deal.refresh_from_db()
    assert deal.needs_review


def test_admin_shows_the_match_and_decides(client, held, other_manager, partner_a):
    _, deal = held
    other_manager.is_staff = True
    other_manager.save()
    client.force_login(other_manager)
    page = client.get(reverse("admin:deals_deal_change", args=[deal.pk])).content.decode()
    assert partner_a.name in page and "The same customer: reject" in page
    answer = client.post(reverse("admin:deals_deal_decide", args=[deal.pk, "separate"]))
    assert answer.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.needs_review) == ("approved", False)


# ---------------------------------------------------------------- the live hint


HINTS = [
    # (what partner A holds, what B types, hint state, registration outcome)
    ({}, ("Globex", "co.uk"), "invalid", "refused"),
    ({}, ("Globex", "glo\u200bbex.example"), "invalid", "refused"),
    ({"domain": "globex.example"}, ("Globex", "eu.globex.example"), "taken", "rejected"),
    ({"domain": "globex.com"}, ("Globex", "globex.de"), "review", "held"),
    ({"lead": "globex.example"}, ("Globex", "globex.example"), "taken", "rejected"),
    ({}, ("Globex", "globex.example"), "free", "pending"),
]


@pytest.mark.parametrize(("holds", "typed", "state", "outcome"), HINTS)
def test_the_hint_says_what_the_registration_then_does(
    client, partner_a, partner_b, rep_a, b_admin, now, holds, typed, state, outcome
):
    if "domain" in holds:
        register(partner_a, rep_a, customer_domain=holds["domain"])
    if "lead" in holds:
        LeadFactory(company_name="Globex", domain=holds["lead"], created_at=T0 - timedelta(days=3))
    client.force_login(b_admin)
    hint = client.get(
        reverse("portal-deal-check"), {"customer_name": typed[0], "customer_domain": typed[1]}
    ).content.decode()
    assert f'data-state="{state}"' in hint
    try:
        deal = register(partner_b, b_admin, customer_name=typed[0], customer_domain=typed[1])
    except ValidationError:
        done = "refused"
    else:
        done = "held" if deal.needs_review else deal.status
    assert done == outcome


def test_a_customer_with_an_earlier_lead_shows_only_that_refusal(client, partner_b, b_admin, now):
    from tests.factories import AccountFactory

    AccountFactory(name="Globex", domain="globex.example", direct_rep="rep@vendor.example")
    LeadFactory(company_name="Globex", domain="globex.example", created_at=T0 - timedelta(days=3))
    client.force_login(b_admin)
    hint = client.get(
        reverse("portal-deal-check"),
        {"customer_name": "Globex", "customer_domain": "globex.example"},
    ).content.decode()
    assert 'data-state="taken"' in hint
    assert "pipeline" in hint  # the lead refusal, in words
    assert "40%" not in hint and "credit" not in hint


def test_a_direct_customer_free_to_register_says_the_credit_share(client, partner_b, b_admin, now):
    from tests.factories import AccountFactory

    AccountFactory(name="Globex", domain="globex.example", direct_rep="rep@vendor.example")
    client.force_login(b_admin)
    hint = client.get(
        reverse("portal-deal-check"),
        {"customer_name": "Globex", "customer_domain": "globex.example"},
    ).content.decode()
    assert 'data-state="free"' in hint and "40%" in hint


def test_the_hint_never_names_the_holder(client, partner_a, rep_a, b_admin, now):
    register(partner_a, rep_a, customer_domain="globex.com")
    client.force_login(b_admin)
    for typed in ("globex.com", "globex.de"):
        hint = client.get(
            reverse("portal-deal-check"), {"customer_name": "X", "customer_domain": typed}
        ).content.decode()
        assert partner_a.name not in hint
