"""The public partner directory (RULEBOOK §11): the partner admin's profile, the public
pages and their filters, "Contact this partner" becoming a lead passed to that partner,
and the month's directory leads against the playbook's 5–15."""

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from partners.models import (
    DirectoryInquiry,
    DirectoryProfile,
    Lead,
    LeadSource,
    Notice,
    PartnerRole,
    PartnerStatus,
)
from partners.services.directory import directory_lead_band
from prm.models import FormPost

from .factories import LeadFactory, PartnerFactory, PartnerUserFactory, default_tier

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def listed(partner, **fields) -> DirectoryProfile:
    values = {
        "listed": True,
        "description": f"{partner.name} implements and runs our platform.",
        "regions": ",emea,",
        "specialties": ",implementation,security,",
        "languages": ",en,de,",
        **fields,
    }
    profile, _ = DirectoryProfile.objects.update_or_create(partner=partner, defaults=values)
    return profile


INQUIRY = {
    "contact_name": "Carla Customer",
    "company_name": "Contoso Retail",
    "contact_email": "carla@contoso.example",
    "domain": "contoso.example",
    "message": "We need help moving 40 stores onto the platform.",
    "website": "",
}


# ---------------------------------------------------------------- the profile (portal)


def test_partner_admin_opts_in_with_a_profile_and_a_logo(client, a_admin, partner_a):
    client.force_login(a_admin)
    response = client.post(
        reverse("portal-directory-profile"),
        {
            "listed": "on",
            "description": "Retail specialists since 2004.",
            "specialties": ["security", "implementation"],
            "regions": ["emea", "apac"],
            "languages": ["en", "zh"],
            "logo": SimpleUploadedFile("../../Our Logo.png", PNG, content_type="text/html"),
        },
    )
    assert response.status_code == 302
    profile = DirectoryProfile.objects.get(partner=partner_a)
    assert profile.listed and profile.description == "Retail specialists since 2004."
    # Stored in the order of the choices, whatever order they came in.
    assert profile.specialty_list == ["implementation", "security"]
    assert profile.region_list == ["emea", "apac"] and profile.language_list == ["en", "zh"]
    assert profile.logo.name.startswith(f"directory/logos/{partner_a.pk}/Our_Logo")
    assert profile.logo_type == "image/png"  # from the checked kind, not what the client said
    assert profile.updated_by == a_admin

    logo = client.get(reverse("directory-logo", args=[partner_a.pk]))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    assert b"".join(logo.streaming_content) == PNG


def test_a_new_logo_replaces_the_old_file_and_can_be_removed(
    client, a_admin, partner_a, django_capture_on_commit_callbacks
):
    client.force_login(a_admin)
    url = reverse("portal-directory-profile")
    base = {"description": "Retail specialists.", "listed": "on"}
    client.post(url, {**base, "logo": SimpleUploadedFile("a.png", PNG)})
    first = DirectoryProfile.objects.get(partner=partner_a).logo
    storage, first_name = first.storage, first.name
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**base, "logo": SimpleUploadedFile("b.jpg", b"\xff\xd8\xff" + PNG)})
    second = DirectoryProfile.objects.get(partner=partner_a)
    assert second.logo_type == "image/jpeg" and not storage.exists(first_name)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**base, "remove_logo": "on"})
    assert not DirectoryProfile.objects.get(partner=partner_a).logo
    assert not storage.exists(second.logo.name)
    assert client.get(reverse("directory-logo", args=[partner_a.pk])).status_code == 404


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"listed": "on", "description": ""}, "description", "Describe your company"),
        ({"regions": ["mars"]}, "regions", "Select a valid choice"),
        ({"languages": ["xx"]}, "languages", "Select a valid choice"),
        ({"description": "x" * 2001}, "description", "at most 2000 characters"),
        (
            {"logo": SimpleUploadedFile("logo.png", b"<html><script>alert(1)</script>")},
            "logo",
            "not really a .png file",
        ),
        ({"logo": SimpleUploadedFile("logo.svg", b"<svg></svg>")}, "logo", "not accepted"),
        ({"logo": SimpleUploadedFile("big.png", PNG + b"\x00" * 1024 * 1024)}, "logo", "limit"),
    ],
)
def test_bad_profile_input_is_a_400_that_says_why(client, a_admin, partner_a, data, field, message):
    listed(partner_a, description="Kept as it was.")
    client.force_login(a_admin)
    response = client.post(reverse("portal-directory-profile"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    profile = DirectoryProfile.objects.get(partner=partner_a)
    assert profile.description == "Kept as it was." and not profile.logo  # nothing lost


def test_a_rep_reads_the_profile_and_cannot_change_it(client, a_rep, partner_a):
    listed(partner_a)
    client.force_login(a_rep)
    page = client.get(reverse("portal-directory-profile"))
    assert page.status_code == 200 and 'data-testid="profile-read"' in page.content.decode()
    refused = client.post(reverse("portal-directory-profile"), {"description": "Hijacked"})
    assert refused.status_code == 403
    assert DirectoryProfile.objects.get(partner=partner_a).description != "Hijacked"


def test_an_opted_in_partner_not_yet_active_is_told_why_it_is_not_shown(client, a_admin, partner_a):
    partner_a.status = PartnerStatus.ONBOARDING
    partner_a.save()
    listed(partner_a)
    client.force_login(a_admin)
    page = client.get(reverse("portal-directory-profile")).content.decode()
    assert 'data-testid="not-active"' in page and 'data-testid="public-link"' not in page
    assert client.get(reverse("directory-partner", args=[partner_a.pk])).status_code == 404


def test_staff_have_no_directory_profile_page(client, manager):
    client.force_login(manager)
    assert client.get(reverse("portal-directory-profile")).status_code == 403


# ---------------------------------------------------------------- the public pages


def test_only_active_partners_that_opted_in_are_shown(client, partner_a, partner_b):
    listed(partner_a)
    listed(partner_b, listed=False)
    suspended = PartnerFactory(name="Suspended Co", status=PartnerStatus.SUSPENDED)
    listed(suspended)
    PartnerFactory(name="No Profile Inc")

    page = client.get(reverse("directory"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Alpha Systems" in text
    assert "Bravo Networks" not in text and "Suspended Co" not in text
    assert "No Profile Inc" not in text
    assert client.get(reverse("directory-partner", args=[partner_a.pk])).status_code == 200
    for other in (partner_b, suspended):
        assert client.get(reverse("directory-partner", args=[other.pk])).status_code == 404
        assert client.get(reverse("directory-logo", args=[other.pk])).status_code == 404


def test_an_unlisted_partners_logo_is_never_served(client, partner_b):
    listed(partner_b, listed=False)
    profile = DirectoryProfile.objects.get(partner=partner_b)
    profile.logo.save("logo.png", SimpleUploadedFile("logo.png", PNG), save=True)
    profile.logo_type = "image/png"
    profile.save()
    assert client.get(reverse("directory-logo", args=[partner_b.pk])).status_code == 404


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"region": "emea"}, {"Alpha Systems"}),
        ({"region": "apac"}, {"Bravo Networks"}),
        ({"specialty": "security"}, {"Alpha Systems"}),
        ({"language": "zh"}, {"Bravo Networks"}),
        ({"language": "en"}, {"Alpha Systems", "Bravo Networks"}),
        ({"tier": "gold"}, {"Bravo Networks"}),
        ({"q": "bravo"}, {"Bravo Networks"}),
        ({"q": "nobody"}, set()),
        ({"region": "emea", "tier": "gold"}, set()),
    ],
)
def test_the_filters(client, partner_a, partner_b, query, shown):
    listed(partner_a)  # silver, EMEA, security, English and German
    listed(
        partner_b, regions=",apac,", specialties=",training,", languages=",en,zh,"
    )  # gold, APAC, training, English and Chinese
    page = client.get(reverse("directory"), query)
    assert page.status_code == 200
    names = set(re.findall(r"stretched-link[^>]*>([^<]+)</a>", page.content.decode()))
    assert names == shown


@pytest.mark.parametrize(
    "query",
    [{"region": "mars"}, {"tier": "diamond"}, {"language": "klingon"}, {"q": "x" * 101}],
)
def test_a_bad_filter_is_a_400_that_names_it(client, partner_a, query):
    listed(partner_a)
    page = client.get(reverse("directory"), query)
    assert page.status_code == 400
    assert 'data-testid="filter-error"' in page.content.decode()


def test_pages_of_twelve_keep_the_filters(client):
    for n in range(14):
        listed(PartnerFactory(name=f"Listed {n:02d}"))
    first = client.get(reverse("directory"), {"region": "emea"}).content.decode()
    assert first.count('data-testid="directory-card"') == 12 and "14 partners" in first
    next_link = re.search(r'href="\?([^"]*)" data-testid="next-page"', first).group(1)
    assert "region=emea" in next_link and next_link.endswith("page=2")
    second = client.get(reverse("directory"), {"region": "emea", "page": "2"}).content.decode()
    assert second.count('data-testid="directory-card"') == 2
    # A page out of range or not a number shows the nearest page, never an error.
    assert client.get(reverse("directory"), {"page": "99"}).status_code == 200
    assert client.get(reverse("directory"), {"page": "x"}).status_code == 200


def test_the_directory_pages_take_a_bounded_number_of_queries(
    client, django_assert_max_num_queries
):
    partners = [PartnerFactory(name=f"Listed {n:02d}") for n in range(3)]
    for partner in partners:
        listed(partner)
    with django_assert_max_num_queries(4):
        client.get(reverse("directory"))
    for n in range(20):
        listed(PartnerFactory(name=f"More {n:02d}"))
    with django_assert_max_num_queries(4):
        client.get(reverse("directory"), {"region": "emea", "language": "en"})
    with django_assert_max_num_queries(3):
        client.get(reverse("directory-partner", args=[partners[0].pk]))


def test_the_directory_speaks_chinese(client, partner_a):
    listed(partner_a)
    page = client.get(reverse("directory"), **ZH).content.decode()
    assert "寻找合作伙伴" in page and "欧洲、中东和非洲" in page and "实施" in page
    assert "Find a partner" not in page and "Regions served" not in page
    detail = client.get(reverse("directory-partner", args=[partner_a.pk]), **ZH).content.decode()
    assert "联系该合作伙伴" in detail and "Contact this partner" not in detail


def test_the_sign_in_page_links_the_directory(client):
    page = client.get(reverse("account_login")).content.decode()
    assert f'href="{reverse("directory")}"' in page


# ---------------------------------------------------------------- "Contact this partner"


def test_an_inquiry_becomes_a_lead_of_that_partner_and_tells_it(
    client, partner_a, a_admin, queued_mail, django_capture_on_commit_callbacks
):
    listed(partner_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("directory-partner", args=[partner_a.pk]), INQUIRY)
    assert response.status_code == 200
    assert "Thank you, Carla Customer" in response.content.decode()

    lead = Lead.objects.get()
    assert lead.partner == partner_a and lead.source == LeadSource.DIRECTORY
    assert lead.company_name == "Contoso Retail" and lead.domain == "contoso.example"
    inquiry = DirectoryInquiry.objects.get()
    assert inquiry.lead == lead and inquiry.partner == partner_a
    assert inquiry.contact_email == "carla@contoso.example"
    assert "40 stores" in inquiry.message

    notice = Notice.objects.get(partner=partner_a)
    assert "Contoso Retail" in notice.text and notice.link == reverse("portal-directory-profile")
    assert queued_mail() == 1
    (sent,) = mail.outbox
    assert sent.to == [a_admin.email]
    assert "carla@contoso.example" in sent.body and "40 stores" in sent.body


def test_the_notice_is_in_its_readers_language_whatever_the_customers(client, partner_a):
    from django.utils import translation

    listed(partner_a)
    client.post(reverse("directory-partner", args=[partner_a.pk]), INQUIRY, **ZH)
    notice = Notice.objects.get()
    assert notice.kind == "leads"
    with translation.override("en"):
        assert notice.shown_text.startswith("New lead from the partner directory")
    with translation.override("zh-hans"):
        assert notice.shown_text.startswith("来自合作伙伴目录的新线索")


def test_the_honeypot_refuses_and_records_nothing(client, partner_a):
    listed(partner_a)
    response = client.post(
        reverse("directory-partner", args=[partner_a.pk]), {**INQUIRY, "website": "http://x"}
    )
    assert response.status_code == 400
    assert not Lead.objects.exists() and not DirectoryInquiry.objects.exists()
    assert not FormPost.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"contact_email": "not-an-address"}, "valid email"),
        ({"domain": "not a domain"}, "is not a domain"),
        ({"company_name": ""}, "This field is required"),
        ({"contact_name": "   "}, "This field is required"),
        ({"message": "x" * 2001}, "at most 2000 characters"),
        ({"message": ""}, "This field is required"),
    ],
)
def test_bad_inquiries_are_a_400_that_says_why(client, partner_a, changes, message):
    listed(partner_a)
    response = client.post(
        reverse("directory-partner", args=[partner_a.pk]), {**INQUIRY, **changes}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Carla Customer" in page or changes.get("contact_name")  # what was typed is kept
    assert not Lead.objects.exists()


def test_an_inquiry_to_a_partner_that_left_the_directory_is_a_404(client, partner_a):
    listed(partner_a, listed=False)
    response = client.post(reverse("directory-partner", args=[partner_a.pk]), INQUIRY)
    assert response.status_code == 404 and not Lead.objects.exists()


def test_one_address_sends_ten_inquiries_an_hour(client, partner_a):
    listed(partner_a)
    url = reverse("directory-partner", args=[partner_a.pk])
    for n in range(10):
        response = client.post(url, INQUIRY, REMOTE_ADDR="198.51.100.20")
        assert response.status_code == 200, n
    refused = client.post(url, INQUIRY, REMOTE_ADDR="198.51.100.20")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert Lead.objects.count() == 10
    assert client.post(url, INQUIRY, REMOTE_ADDR="198.51.100.21").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert client.post(url, INQUIRY, REMOTE_ADDR="198.51.100.20").status_code == 200


# ---------------------------------------------------------------- leads against the range


@pytest.mark.parametrize(
    ("count", "state"), [(0, "below"), (4, "below"), (5, "within"), (15, "within"), (16, "above")]
)
def test_the_playbooks_range(count, state):
    assert directory_lead_band(count).state == state


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=timezone.get_default_timezone()))
def test_the_partner_sees_this_months_directory_leads_against_the_range(client, a_admin, partner_a):
    listed(partner_a)
    now = timezone.now()
    for _ in range(6):
        LeadFactory(partner=partner_a, source="directory", created_at=now)
    LeadFactory(partner=partner_a, source="directory", created_at=now - timedelta(days=25))
    LeadFactory(partner=partner_a, source="inbound", created_at=now)
    client.force_login(a_admin)
    page = client.get(reverse("portal-directory-profile")).content.decode()
    card = page[page.index('data-testid="directory-leads"') :]
    assert '<div class="stat">6</div>' in card and "Within the range" in card
    assert "5–15" in card


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=timezone.get_default_timezone()))
def test_managers_see_the_counts_of_their_own_partners_only(
    client, manager, partner_a, partner_b, django_assert_max_num_queries
):
    listed(partner_a)
    listed(partner_b)
    for _ in range(2):
        LeadFactory(partner=partner_a, source="directory", created_at=timezone.now())
    client.force_login(manager)
    report_url = reverse("admin:partners_partner_directory_leads")
    page = client.get(report_url).content.decode()
    assert "Alpha Systems" in page and "Bravo Networks" not in page
    assert "below 5" in page
    change = client.get(reverse("admin:partners_partner_change", args=[partner_a.pk]))
    assert "2 (playbook: 5–15 a month; below)" in change.content.decode()

    for n in range(10):
        other = PartnerFactory(name=f"Managed {n}", channel_manager=manager)
        listed(other)
        LeadFactory(partner=other, source="directory", created_at=timezone.now())
    with django_assert_max_num_queries(12):
        page = client.get(report_url)
    assert page.content.decode().count("/change/") >= 11


def test_a_partner_person_is_refused_the_report(client, a_admin):
    client.force_login(a_admin)
    response = client.get(reverse("admin:partners_partner_directory_leads"))
    assert response.status_code in (302, 403)


def test_reps_partner_role_is_not_enough_to_edit(client, partner_a):
    rep = PartnerUserFactory(partner=partner_a, role=PartnerRole.REP).user
    client.force_login(rep)
    assert client.post(reverse("portal-directory-profile"), {}).status_code == 403
    assert not DirectoryProfile.objects.exists()


def test_tier_badge_comes_from_the_partners_tier(client, partner_a):
    listed(partner_a)
    partner_a.tier = default_tier("platinum")
    partner_a.save()
    page = client.get(reverse("directory-partner", args=[partner_a.pk])).content.decode()
    assert "tier-platinum" in page


@pytest.mark.parametrize(
    "url",
    ["/directory/99999999999999999999/", "/directory/99999999999999999999/logo/", "/directory/0/"],
)
def test_an_id_out_of_range_is_a_404(client, url):
    assert client.get(url).status_code == 404
    assert client.post(url, INQUIRY).status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"company_name": "x" * 201},
        {"contact_name": "x" * 151},
        {"domain": "x" * 256},
        {"contact_email": "a@" + "b" * 300 + ".example"},
        {"message": "\x00"},
    ],
)
def test_oversized_or_binary_inquiry_fields_are_a_400(client, partner_a, changes):
    listed(partner_a)
    response = client.post(
        reverse("directory-partner", args=[partner_a.pk]), {**INQUIRY, **changes}
    )
    assert response.status_code == 400
    assert 'data-testid="field-error"' in response.content.decode()
    assert not Lead.objects.exists()


def test_the_profile_page_takes_a_bounded_number_of_queries(
    client, a_admin, partner_a, django_assert_max_num_queries
):
    listed(partner_a)
    client.force_login(a_admin)
    url = reverse("portal-directory-profile")
    client.get(url)
    for _ in range(3):
        client.post(reverse("directory-partner", args=[partner_a.pk]), INQUIRY)
    with django_assert_max_num_queries(10):
        client.get(url)
    for n in range(12):
        client.post(
            reverse("directory-partner", args=[partner_a.pk]),
            INQUIRY,
            REMOTE_ADDR=f"198.51.100.{n + 30}",
        )
    with django_assert_max_num_queries(10):  # the same with five times the inquiries
        page = client.get(url)
    assert page.content.decode().count("carla@contoso.example</a>") == 10  # the latest ten


def test_the_profile_page_speaks_chinese(client, a_admin, partner_a):
    listed(partner_a)
    client.force_login(a_admin)
    page = client.get(reverse("portal-directory-profile"), **ZH).content.decode()
    assert "目录资料" in page and "本月目录线索" in page and "营销手册预期每月 5–15 条" in page
    for english in ("Directory profile", "Specialties", "Regions served", "Save", "Logo"):
        assert f">{english}<" not in page, english
