"""The kept deal list (prm.pagecache): served again only to the same session, and never
once anything it shows has changed, whichever way the change was written.

Transactional: a kept page is only served outside a transaction, as in production.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deals import services
from deals.models import Deal
from partners.models import Notice, PartnerUser, User
from prm import pagecache
from prm.models import PageStamp
from tests.factories import DealFactory, PartnerUserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

LIST = "/portal/deals/"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def kept_pages(settings):
    """Sessions in the cache, as production has them with Redis."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.PAGE_CACHE = True
    pagecache.enabled.cache_clear()
    yield
    pagecache.enabled.cache_clear()


def visit(client, path=LIST):
    """(response, whether the view ran): a kept page costs Django no query at all."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response, len(queries.captured_queries) > 0


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def without_token(html: str) -> str:
    return TOKEN.sub("", html).replace(re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1), "")


def test_a_second_visit_is_the_kept_page_with_a_fresh_csrf_token(a_admin, partner_a):
    DealFactory.create_batch(3, partner=partner_a, customer_name="Initech")
    client = signed_in(a_admin)
    first, drawn = visit(client)
    assert drawn and first.status_code == 200
    second, drawn = visit(client)
    assert not drawn and second.status_code == 200
    assert second.content.decode().count("Initech") == 3
    assert without_token(second.content.decode()) == without_token(first.content.decode())
    token = TOKEN.search(second.content.decode()).group(1)
    assert token != TOKEN.search(first.content.decode()).group(1)
    assert pagecache.TOKEN_MARK not in second.content.decode()
    assert "Cookie" in second["Vary"]
    # The fresh token is good for the session's forms.
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    answer = strict.post(
        reverse("set_language"), {"language": "en", "next": LIST, "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302


def test_the_kept_page_costs_no_query_whatever_the_rows(
    a_admin, partner_a, django_assert_max_num_queries
):
    client = signed_in(a_admin)
    visit(client)
    DealFactory.create_batch(30, partner=partner_a)
    visit(client)  # drawn again: the deals changed
    with django_assert_max_num_queries(0):
        assert client.get(LIST).status_code == 200


def change_by_service(partner, user):
    services.deal_register(
        partner=partner,
        submitted_by=user,
        customer_name="Changed Corp",
        customer_domain="changed.example",
        amount="1000",
        expected_close=timezone.localdate() + timedelta(days=30),
        deal_type="new_logo",
        compensation_model="reseller",
    )
    return "Changed Corp"


def change_by_bulk_update(partner, user):
    Deal.objects.filter(partner=partner).update(customer_name="Changed Corp")
    return "Changed Corp"


def change_by_sql(partner, user):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE deals_deal SET customer_name = 'Changed Corp' WHERE partner_id = %s",
            [partner.pk],
        )
    return "Changed Corp"


def change_by_delete(partner, user):
    Deal.objects.filter(partner=partner).delete()
    return "No registrations yet."


def change_by_notice(partner, user):
    Notice.objects.create(partner=partner, text="Your tier changed")
    return 'data-testid="unread"'


def change_of_name(partner, user):
    User.objects.filter(pk=user.pk).update(first_name="Renamed", last_name="Person")
    return "Renamed"


def change_of_membership(partner, user):
    other = PartnerUserFactory().partner
    Deal.objects.create(
        partner=other,
        customer_name="Elsewhere Ltd",
        amount="5",
        expected_close=timezone.localdate(),
        deal_type="new_logo",
        compensation_model="reseller",
        submitted_at=timezone.now(),
    )
    PartnerUser.objects.filter(user=user).update(partner=other)
    return "Elsewhere Ltd"


@pytest.mark.parametrize(
    "change",
    [
        change_by_service,
        change_by_bulk_update,
        change_by_sql,
        change_by_delete,
        change_by_notice,
        change_of_name,
        change_of_membership,
    ],
)
def test_any_write_to_what_the_page_shows_draws_it_again(change, a_admin, partner_a):
    DealFactory(partner=partner_a, customer_name="Initech")
    client = signed_in(a_admin)
    visit(client)
    assert not visit(client)[1]
    shown = change(partner_a, a_admin)
    response, drawn = visit(client)
    assert drawn
    assert shown in response.content.decode()
    assert not visit(client)[1]  # and kept again


def test_a_deactivated_person_is_sent_away(a_admin):
    client = signed_in(a_admin)
    visit(client)
    User.objects.filter(pk=a_admin.pk).update(is_active=False)
    response, _ = visit(client)
    assert response.status_code == 302 and "login" in response.url


def test_signing_out_ends_the_kept_page_for_that_cookie(a_admin):
    client = signed_in(a_admin)
    visit(client)
    cookie = client.cookies["sessionid"].value
    client.post(reverse("account_logout"))
    replay = Client()
    replay.cookies["sessionid"] = cookie
    response, _ = visit(replay)
    assert response.status_code == 302 and "login" in response.url


def test_a_changed_password_ends_it(a_admin):
    client = signed_in(a_admin)
    visit(client)
    a_admin.set_password("a-New-password-2026")
    a_admin.save()
    response, _ = visit(client)
    assert response.status_code == 302


def test_no_one_else_gets_it(a_admin, b_admin, partner_a, partner_b):
    DealFactory(partner=partner_a, customer_name="Initech")
    DealFactory(partner=partner_b, customer_name="Hooli")
    alice = signed_in(a_admin)
    visit(alice)
    assert not visit(alice)[1]
    # Another session of the same person draws its own.
    assert visit(signed_in(a_admin))[1]
    bob = signed_in(b_admin)
    page, drawn = visit(bob)
    assert drawn and "Hooli" in page.content.decode() and "Initech" not in page.content.decode()
    # A cookie that names no session finds nothing.
    stranger = Client()
    stranger.cookies["sessionid"] = "x" * 32
    assert visit(stranger)[0].status_code == 302
    # A session forged onto another person's id does not match the kept page's.
    session = alice.session
    session[SESSION_KEY] = str(b_admin.pk)
    session.save()
    assert visit(alice)[1]


def test_a_message_is_shown_once_and_not_kept(a_rep, partner_a):
    client = signed_in(a_rep)
    visit(client)
    client.post(
        reverse("portal-deal-new"),
        {
            "customer_name": "Hooli",
            "customer_domain": "hooli.example",
            "amount": "42000",
            "expected_close": (timezone.localdate() + timedelta(days=60)).isoformat(),
            "deal_type": "new_logo",
            "compensation_model": "reseller",
            "contract_years": "1",
        },
    )
    shown = client.get(LIST).content.decode()
    assert "Hooli is registered" in shown
    later, _ = visit(client)
    assert "Hooli is registered" not in later.content.decode()


def test_each_query_language_and_day_is_its_own_page(a_admin, partner_a):
    DealFactory(partner=partner_a, status="rejected", customer_name="Initech")
    DealFactory(partner=partner_a, status="pending", customer_name="Hooli")
    client = signed_in(a_admin)
    visit(client)
    rejected, drawn = visit(client, LIST + "?status=rejected")
    assert drawn and "Hooli" not in rejected.content.decode()
    assert not visit(client, LIST + "?status=rejected")[1]
    assert "Hooli" in visit(client)[0].content.decode()
    # A parameter the list does not read is not kept.
    visit(client, LIST + "?utm=x")
    assert visit(client, LIST + "?utm=x")[1]
    client.cookies["django_language"] = "zh-hans"
    chinese, drawn = visit(client)
    assert drawn and 'lang="zh-hans"' in chinese.content.decode()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert visit(client)[1]


def test_vendor_people_are_not_kept(chief):
    client = signed_in(chief)
    visit(client)
    assert visit(client)[1]


def test_off_without_sessions_in_the_cache(settings, a_admin):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    pagecache.enabled.cache_clear()
    client = signed_in(a_admin)
    visit(client)
    assert visit(client)[1]


def test_triggers_touch_each_partner_once_per_statement(partner_a, partner_b):
    def stamps():
        return dict(PageStamp.objects.values_list("scope", "stamp"))

    before = stamps()
    Deal.objects.bulk_create(
        [DealFactory.build(partner=partner) for partner in (partner_a, partner_b, partner_a)]
    )
    after = stamps()
    assert set(after) >= {partner_a.pk, partner_b.pk}
    assert all(after[p] != before.get(p) for p in (partner_a.pk, partner_b.pk))
    Deal.objects.filter(partner=partner_a, customer_name="none such").update(amount=1)
    assert stamps() == after  # nothing written, nothing touched
    Deal.objects.filter(partner=partner_b).update(amount=1)
    assert stamps()[partner_b.pk] != after[partner_b.pk]
    assert stamps()[partner_a.pk] == after[partner_a.pk]


@pytest.fixture
def health_checks():
    """CONN_HEALTH_CHECKS as production has it, and the per-request reset that Django's
    request_started signal does there (the test client leaves that signal out)."""
    before = connection.health_check_enabled
    connection.health_check_enabled = True
    connection.health_check_done = False
    yield
    connection.health_check_enabled = before


def test_a_broken_connection_takes_the_normal_path(a_admin, partner_a, health_checks):
    DealFactory(partner=partner_a, customer_name="Initech")
    client = signed_in(a_admin)
    visit(client)
    connection.connection.close()  # as a database restart leaves it
    connection.health_check_done = False  # a new request
    response, drawn = visit(client)
    assert response.status_code == 200 and drawn
    assert "Initech" in response.content.decode()
    assert not visit(client)[1]


def test_with_no_connection_open_yet_it_opens_one(a_admin):
    client = signed_in(a_admin)
    visit(client)
    connection.close()
    assert not visit(client)[1]
