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


# ---------------------------------------------------------------- hostile and broken files

HEADER = "company_name,domain,source,created_at\n"


@pytest.mark.parametrize(
    ("content", "messages"),
    [
        (
            HEADER + "Globex,globex.example,inbound,2026-06-01\nInitech,,event,2026-02-30\n",
            ["Line 3: created_at &#x27;2026-02-30&#x27; is not a real date or time."],
        ),
        (
            HEADER + "Globex,globex.example,inbound,2026-02-30T25:00\n",
            ["Line 2: created_at"],
        ),
        (
            HEADER + "Globex,globex.example,inbound,\nIni\x00tech,,event,\n",
            ["Line 3: it holds a NUL character"],
        ),
        (
            HEADER + "Globex,globex.example,inbound,\n" + "A" * 131_073 + ",,,\nInitech,,,\n",
            ["Line 3: a value is longer than 131,072 characters."],
        ),
        (
            HEADER + "Globex,globex.example,inbound,\n" + "A" * 131_072 + ",,,\nInitech,,,\n",
            ["Line 3: company_name has 131,072 characters, at most 200."],
        ),
        (
            HEADER + "Globex,globex.example,inbound,\n" + "A" * 5000 + ",,,\n",
            ["Line 3: company_name has 5,000 characters, at most 200."],
        ),
        (
            HEADER + 'Globex,globex.example,inbound,\n"Initech,,,\n',
            ["Line 3: a quoted value is never closed"],
        ),
        (
            HEADER + "Globex,globex.example\nInitech,,event,2026-05-02,extra\n",
            ["Line 2: 2 values for 4 columns", "Line 3: 5 values for 4 columns"],
        ),
        (
            "company_name,domain,created\nGlobex,globex.example,2026-05-02\n",
            ["Line 1: the column &#x27;created&#x27; is not one of"],
        ),
        ("company_name,domain,domain\n", ["Line 1: the column domain appears twice."]),
        ("Globex,globex.example\n", ["Line 1: the first line must name the columns"]),
        ("\n\n", ["Line 1: the file is empty"]),
        ("", ["leads.csv is empty."]),
        (HEADER, ["The file has no leads after its first line."]),
        (
            (HEADER + "Globex,globex.example,inbound,\n").encode() + b"Caf\xe9,,,\n",
            ["Line 3: the file is not UTF-8 text"],
        ),
    ],
    ids=[
        "impossible-date",
        "impossible-time",
        "nul-byte",
        "field-over-csv-limit",
        "field-at-csv-limit",
        "name-too-long",
        "open-quote",
        "wrong-number-of-values",
        "unknown-column",
        "duplicate-column",
        "no-header",
        "blank-lines",
        "empty",
        "header-only",
        "latin-1",
    ],
)
def test_a_broken_file_is_refused_by_line_and_imports_nothing(client, manager, content, messages):
    client.force_login(manager)
    data = content if isinstance(content, bytes) else content.encode()
    response = client.post(
        reverse("admin:partners_lead_import"),
        {"file": SimpleUploadedFile("leads.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 400
    page = response.content.decode()
    for message in messages:
        assert message in page
    assert not Lead.objects.exists()


def test_too_many_rows_are_refused_at_the_first_line_past_the_limit(client, manager, settings):
    from partners import services

    client.force_login(manager)
    rows = "".join(f"Company {n},,inbound,\n" for n in range(services.LEAD_CSV_MAX_ROWS + 5))
    response = upload(client, HEADER + rows)
    assert response.status_code == 400
    assert f"Line {services.LEAD_CSV_MAX_ROWS + 2}: a file holds at most 10,000 leads" in (
        response.content.decode()
    )
    assert not Lead.objects.exists()


def test_every_bad_line_is_listed_up_to_fifty(client, manager):
    client.force_login(manager)
    rows = "".join(f"Company {n},,carrier-pigeon,\n" for n in range(60))
    page = upload(client, HEADER + rows).content.decode()
    assert "Line 2: source" in page and "Line 51: source" in page
    assert "Line 52: source" not in page
    assert "… and 10 more." in page


def test_a_file_that_is_not_csv_is_refused(client, manager):
    client.force_login(manager)
    response = upload(client, GOOD, name="leads.pdf")
    assert response.status_code == 400
    assert "leads.pdf: this kind of file is not accepted; use csv." in response.content.decode()
    assert not Lead.objects.exists()


def test_a_file_over_the_upload_limit_is_refused(client, manager, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    client.force_login(manager)
    response = upload(client, GOOD + "Acme,acme.example,,\n" * 60)
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
    assert not Lead.objects.exists()
