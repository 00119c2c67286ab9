"""``Cache-Control: no-store`` on every answer to a signed-in user (API.md): API (token or
session), portal, dashboards, admin and downloads; a view's own stricter header is kept;
anonymous answers are left alone."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from incentives.models import MdfProof
from incentives.services.mdf import mdf_request_approve
from partners.models import ApiToken
from tests.factories import DealFactory, LedgerEntryFactory, MdfFundFactory, MdfRequestFactory

pytestmark = pytest.mark.django_db


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/deals/",
        "/api/v1/partners/",
        "/api/v1/programs/",
        "/api/v1/ledger/",
        "/api/v1/deals/999999/",  # a 404 is an answer to a signed-in user too
    ],
)
def test_api_answers_to_a_token_are_not_stored(client, a_admin, partner_a, path):
    DealFactory(partner=partner_a)
    key = ApiToken.objects.create(user=a_admin)[1]
    response = client.get(path, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code in (200, 404)
    assert response["Cache-Control"] == "no-store"


def test_api_answers_in_a_browser_session_are_not_stored(client, manager, partner_a):
    client.force_login(manager)
    response = client.get("/api/v1/partners/")
    assert response.status_code == 200 and no_store(response)


def test_a_new_token_is_not_stored(client, a_admin):
    response = client.post(
        "/api/v1/auth/token/",
        {"username": a_admin.username, "password": "Correct-Horse-9"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("a_admin", "/portal/deals/"),
        ("a_admin", "/portal/earnings/"),
        ("a_admin", "/portal/mdf/"),
        ("a_rep", "/portal/deals/new/"),
        ("executive", "/executive/"),
        ("manager", "/admin/"),
        ("manager", "/admin/partners/partner/"),
        ("vendor_admin", "/admin/deals/deal/"),
    ],
)
def test_pages_for_a_signed_in_user_are_not_stored(client, request, partner_a, who, path):
    client.force_login(request.getfixturevalue(who))
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    assert no_store(response)


def test_a_views_own_stricter_header_is_kept(client, manager):
    client.force_login(manager)
    response = client.get("/admin/")
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "must-revalidate", "private"} <= directives


def test_anonymous_answers_are_left_alone(client, api):
    assert not no_store(client.get("/apply/"))
    assert not no_store(api().get("/api/v1/deals/"))  # 401: nothing was shown


def test_downloads_for_a_signed_in_user_are_not_stored(client, api, a_admin, partner_a, manager):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC), tick=False):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        mdf_request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        mdf_request_approve(request=mdf_request, by=manager)
    client.force_login(a_admin)
    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        client.post(
            f"/portal/mdf/requests/{mdf_request.pk}/claim/",
            {
                "actual_cost": "100",
                "leads_generated": "3",
                "files": [SimpleUploadedFile("attendees.csv", b"name\nAda\n")],
            },
        )
    proof = MdfProof.objects.get()
    download = client.get(f"/portal/mdf/proofs/{proof.pk}/")
    assert download.status_code == 200 and no_store(download)
    assert not no_store(Client().get(f"/portal/mdf/proofs/{proof.pk}/"))  # sign-in redirect


def test_csv_exports_are_not_stored(api, finance):
    LedgerEntryFactory()
    export = api(finance).get("/api/v1/ledger/export/")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert no_store(export)
