"""The 400, 403, 404 and 500 pages (DEBUG off, as in production): in the site's look,
worded for who sees them (not signed in, a partner's person, staff), with a way back; the
API keeps answering JSON. The 500 page is rendered without a query, so it shows when the
database is the trouble."""

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from prm.errors import bad_request, permission_denied, server_error

pytestmark = pytest.mark.django_db

STYLED = ('href="/static/vendor/bootstrap/bootstrap.min.css"', 'data-testid="error"')


def styled(page: str) -> bool:
    return all(mark in page for mark in STYLED)


def test_a_partner_asking_for_another_partners_deal_gets_a_styled_404(client, a_admin, partner_b):
    from tests.factories import DealFactory

    other = DealFactory(partner=partner_b)
    client.force_login(a_admin)
    response = client.get(reverse("portal-deal", args=[other.pk]))
    assert response.status_code == 404
    page = response.content.decode()
    assert styled(page)
    assert "not yours to see" in page
    assert f'href="{reverse("home")}">Go to your home page<' in page


def test_staff_in_the_admin_get_a_404_that_leads_back_to_the_admin(client, manager):
    client.force_login(manager)
    response = client.get("/admin/no-such-app/no-such-model/")
    assert response.status_code == 404
    page = response.content.decode()
    assert styled(page)
    assert "belongs to a partner you do not manage" in page
    assert f'href="{reverse("admin:index")}">Back to the admin<' in page


def test_someone_not_signed_in_gets_a_404_with_the_sign_in_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert styled(page)
    assert "you need to sign in to see it" in page
    assert f'href="{reverse("account_login")}">Sign in<' in page


def test_the_404_page_speaks_chinese(client, a_admin):
    client.force_login(a_admin)
    response = client.get("/portal/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'lang="zh-hans"' in page and "页面不存在" in page and "返回首页" in page


def test_a_partner_opening_a_staff_page_gets_a_styled_403(client, a_rep):
    client.force_login(a_rep)
    response = client.get(reverse("manager-home"))
    assert response.status_code == 403
    page = response.content.decode()
    assert styled(page)
    assert "ask your channel manager or partner admin" in page


def test_staff_refused_get_a_403_worded_for_staff(rf, executive):
    request = rf.get("/admin/deals/deal/add/")
    request.user = executive
    response = permission_denied(request)
    page = response.content.decode()
    assert response.status_code == 403 and styled(page)
    assert "ask a vendor administrator" in page
    assert "Back to the admin" in page


def test_a_bad_query_string_gets_a_styled_400(client, a_admin):
    client.force_login(a_admin)
    response = client.get(reverse("portal-deals") + "?status=%00")
    assert response.status_code == 400
    page = response.content.decode()
    assert styled(page)
    assert "nothing was saved" in page


def test_the_400_handler_for_a_page_and_for_the_api(rf):
    request = rf.get("/portal/deals/")
    request.user = AnonymousUser()
    assert bad_request(request).status_code == 400
    assert styled(bad_request(request).content.decode())
    api = bad_request(rf.get("/api/v1/deals/"))
    assert api.status_code == 400 and json.loads(api.content)["code"] == "bad_request"


def test_the_500_page_is_styled_and_makes_no_query(rf, a_admin, django_assert_num_queries):
    """The user is not loaded yet (the error may be the database's): the page does not
    load it, and speaks to anyone."""
    request = rf.get("/portal/deals/")
    request.request_id = "abc123"
    request.user = SimpleLazyObject(lambda: a_admin)
    with django_assert_num_queries(0):
        try:
            raise ValueError("a bug")
        except ValueError:
            response = server_error(request)
    page = response.content.decode()
    assert response.status_code == 500 and styled(page)
    assert "Something went wrong on our side" in page
    assert "Reference: abc123" in page
    assert "Go to your home page" in page


def test_the_500_page_speaks_to_a_partner_already_known(rf, a_admin):
    request = rf.get("/portal/deals/")
    request.user = a_admin
    try:
        raise ValueError("a bug")
    except ValueError:
        page = server_error(request).content.decode()
    assert "tell your channel manager" in page


def test_the_api_keeps_answering_json(client, a_admin):
    client.force_login(a_admin)
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    request = RequestFactory().get("/api/v1/deals/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == 500 and json.loads(response.content)["code"] == "error"


def test_a_form_sent_without_its_security_token_gets_a_styled_403(a_admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(a_admin)
    response = client.post(reverse("portal-team"), {"email": "x@alpha.example"})
    assert response.status_code == 403
    page = response.content.decode()
    assert styled(page) and "nothing was saved" in page
    api = client.post("/api/v1/deals/", {})
    assert api.status_code == 403 and api.json()["code"] in {"csrf_failed", "permission_denied"}
