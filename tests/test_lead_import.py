"""CRM leads by CSV in the admin: all or nothing, every problem named with its line."""

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from partners.models import Lead
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "company_name,domain,source,created_at\n"
    "Globex Corporation,www.globex.example,inbound,2026-06-01T09:00:00Z\n"
    "Initech,,event,2026-05-02\n"
    "Vandelay Industries,vandelay.example,,\n"
)


def upload(client, text: str, name="leads.csv"):
    return client.post(
        reverse("admin:partners_lead_import"),
        {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
    )


def test_manager_imports_leads_which_attach_to_accounts(client, manager):
    account = AccountFactory(domain="globex.example")
    client.force_login(manager)
    response = upload(client, GOOD)
    assert response.status_code == 302
    assert Lead.objects.count() == 3
    globex = Lead.objects.get(company_name="Globex Corporation")
    assert globex.account == account
    assert globex.created_at == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert Lead.objects.get(company_name="Initech").source == "event"


def test_a_bad_line_imports_nothing_and_names_each_problem(client, manager):
    client.force_login(manager)
    text = GOOD + ",nameless.example,inbound,\nBad Date,bad.example,inbound,someday\nX,y,carrier,\n"
    response = upload(client, text)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 5: company_name is empty." in page
    assert "Line 6: created_at &#x27;someday&#x27;" in page
    assert "Line 7" in page
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,domain\nAcme,acme.example\n", "company_name is required"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_a_file_that_is_not_the_expected_csv_is_refused(client, manager, content, message):
    client.force_login(manager)
    response = client.post(
        reverse("admin:partners_lead_import"),
        {"file": SimpleUploadedFile("x.csv", content, content_type="text/csv")},
    )
    assert response.status_code == 400
    assert message in response.content.decode()


def test_executive_and_partner_cannot_import(client, executive, a_admin):
    client.force_login(executive)
    assert upload(client, GOOD).status_code == 403
    client.force_login(a_admin)
    assert upload(client, GOOD).status_code == 302  # to the admin login
    assert not Lead.objects.exists()
