"""Every face that takes a file (portal, API, admin) refuses a bad one with a 4xx and a
message, never a 500, and stores nothing; a large accepted file is streamed to storage,
never copied in memory."""

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incentives.models import MdfClaim, MdfProof
from incentives.services.mdf import mdf_request_approve
from partners.models import Lead
from tests.factories import MdfFundFactory, MdfRequestFactory
from tests.test_incentives import PDF

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FILING_DAY = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.fixture
def approved_request(partner_a, manager):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC), tick=False):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        mdf_request_approve(request=request, by=manager)
    return request


def stored(folder: str) -> list[str]:
    """Every file kept under ``folder`` of the default storage, at any depth."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{name}" for name in files] + [
        path for sub in folders for path in stored(f"{folder}/{sub}")
    ]


@pytest.fixture(autouse=True)
def _empty_storage():
    """The test storage lives in memory for the whole run: each test starts with none."""
    for path in stored("mdf") + stored("content") + stored("directory"):
        default_storage.delete(path)
    yield
    for path in stored("mdf") + stored("content") + stored("directory"):
        default_storage.delete(path)


def big_pdf(size: int, name: str = "deck.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF + b"x" * (size - len(PDF)), content_type="application/pdf")


# ---------------------------------------------------------------- large MDF proofs


@pytest.mark.parametrize("face", ["api", "portal"])
def test_a_3_mib_proof_is_streamed_to_storage(face, a_admin, approved_request):
    """Past 2.5 MB Django spools an upload to a temporary file, which cannot be copied:
    the API used to deep-copy the request body and answer 500."""
    body = {"actual_cost": "100", "leads_generated": "3", "files": [big_pdf(3 * MiB)]}
    with time_machine.travel(FILING_DAY, tick=False):
        if face == "api":
            client = APIClient()
            client.force_authenticate(a_admin)
            response = client.post(
                "/api/v1/mdf/claims/",
                {**body, "request": approved_request.pk},
                format="multipart",
            )
            assert response.status_code == 201, response.content
        else:
            client = Client()
            client.force_login(a_admin)
            response = client.post(f"/portal/mdf/requests/{approved_request.pk}/claim/", body)
            assert response.status_code == 302
    proof = MdfProof.objects.get()
    assert proof.size == 3 * MiB
    with proof.file.open("rb") as kept:
        assert kept.read(5) == b"%PDF-"
        kept.seek(0, 2)
        assert kept.tell() == 3 * MiB


@pytest.mark.parametrize("face", ["api", "portal"])
def test_an_11_mib_proof_is_refused_by_the_same_10_mb_limit(face, a_admin, approved_request):
    body = {"actual_cost": "100", "leads_generated": "3", "files": [big_pdf(11 * MiB)]}
    with time_machine.travel(FILING_DAY, tick=False):
        if face == "api":
            client = APIClient()
            client.force_authenticate(a_admin)
            response = client.post(
                "/api/v1/mdf/claims/",
                {**body, "request": approved_request.pk},
                format="multipart",
            )
            assert response.json() == {"files": ["deck.pdf is 11.0 MB; the limit is 10 MB."]}
        else:
            client = Client()
            client.force_login(a_admin)
            response = client.post(f"/portal/mdf/requests/{approved_request.pk}/claim/", body)
            assert "deck.pdf is 11.0 MB; the limit is 10 MB." in response.content.decode()
    assert response.status_code == 400
    assert not MdfClaim.objects.exists() and not MdfProof.objects.exists()
    assert stored("mdf") == []


# ---------------------------------------------------------------- every upload path

# The places that take a file, each swept below; the guard fails on a new one.
UPLOAD_SITES = {
    "incentives/models.py": 1,  # MdfProof.file: the MDF claim, portal and API
    "incentives/forms.py": 1,  # the portal's MDF claim form
    "incentives/views.py": 1,
    "incentives/api.py": 4,  # the API's MDF claim: parser, serializer, request.FILES
    "enablement/models.py": 1,  # ContentItem.file: the admin's content library
    "partners/admin.py": 4,  # the admin's lead and exchange-rate imports
    "partners/models.py": 1,  # DirectoryProfile.logo: the partner admin's directory logo
    "partners/forms.py": 1,  # the portal's directory profile form
    "partners/views.py": 1,
    # The API's default parsers take multipart bodies on every operation; only the MDF
    # claim above reads their files.
    "prm/settings/base.py": 1,
}
FILE_FIELDS = {
    ("incentives", "mdfproof", "file"),
    ("enablement", "contentitem", "file"),
    ("partners", "directoryprofile", "logo"),
}
UPLOAD_CODE = re.compile(
    r"\b(forms|models|serializers)\.(FileField|ImageField)\b|request\.FILES|"
    r"MultiPartParser|FileUploadParser"
)


def test_every_upload_path_is_swept():
    from django.apps import apps
    from django.db import models

    sites = {}
    for app in ("prm", "partners", "deals", "incentives", "enablement", "scoring"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            found = len(UPLOAD_CODE.findall(path.read_text()))
            if found:
                sites[path.relative_to(ROOT).as_posix()] = found
    assert sites == UPLOAD_SITES, "an upload path changed: add it to this sweep"
    fields = {
        (model._meta.app_label, model._meta.model_name, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField) and model._meta.app_label != "django_celery_beat"
    }
    assert fields == FILE_FIELDS


def multipart(fields: dict, file_field: str, filename: bytes, content: bytes):
    """A multipart body written by hand: Django's test client would clean the file name."""
    boundary = b"----prm-upload-sweep"
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary, name.encode(), str(value).encode())
        for name, value in fields.items()
    ]
    parts.append(
        b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n%s\r\n"
        % (boundary, file_field.encode(), filename, content)
    )
    body = b"".join(parts) + b"--%s--\r\n" % boundary
    return body, f"multipart/form-data; boundary={boundary.decode()}"


SCRIPT_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
)
LEADS = b"company_name,domain,source,created_at\nGlobex,globex.example,inbound,\n"
RATES = b"currency,base,day,rate\nEUR,USD,2026-03-02,1.08\n"


@dataclass
class Site:
    """One upload path: who posts what where, and what it keeps."""

    name: str
    url: Callable[[], str]
    user: str
    fields: dict
    file_field: str
    good: tuple[str, bytes]  # an acceptable file: its name and content
    api: bool = False
    kept: Callable[[], int] = lambda: 0


def sites(approved_request) -> list[Site]:
    from enablement.models import ContentItem
    from partners.models import DirectoryProfile, ExchangeRate, Program

    claim = {"actual_cost": "100", "leads_generated": "3"}
    now = timezone.localtime()
    return [
        Site(
            "portal MDF claim",
            lambda: f"/portal/mdf/requests/{approved_request.pk}/claim/",
            "a_admin",
            claim,
            "files",
            ("invoice.pdf", PDF),
            kept=lambda: MdfProof.objects.count() + MdfClaim.objects.count(),
        ),
        Site(
            "API MDF claim",
            lambda: "/api/v1/mdf/claims/",
            "a_admin",
            {**claim, "request": approved_request.pk},
            "files",
            ("invoice.pdf", PDF),
            api=True,
            kept=lambda: MdfProof.objects.count() + MdfClaim.objects.count(),
        ),
        Site(
            "admin lead import",
            lambda: reverse("admin:partners_lead_import"),
            "manager",
            {},
            "file",
            ("leads.csv", LEADS),
            kept=lambda: Lead.objects.count(),
        ),
        Site(
            "admin content library",
            lambda: reverse("admin:enablement_contentitem_add"),
            "vendor_admin",
            {
                "program": Program.objects.get(is_default=True).pk,
                "title": "Battle card",
                "kind": "collateral",
                "min_tier_rank": 0,
                "published": "on",
                "created_at_0": now.date().isoformat(),
                "created_at_1": now.time().strftime("%H:%M:%S"),
            },
            "file",
            ("battle-card.pdf", PDF),
            kept=lambda: ContentItem.objects.count(),
        ),
        Site(
            "portal directory logo",
            lambda: reverse("portal-directory-profile"),
            "a_admin",
            {"listed": "on", "description": "Swept"},
            "logo",
            ("logo.png", PNG),
            kept=lambda: DirectoryProfile.objects.exclude(logo="").count(),
        ),
        Site(
            "admin exchange-rate import",
            lambda: reverse("admin:partners_exchangerate_import"),
            "finance",
            {},
            "file",
            ("rates.csv", RATES),
            kept=lambda: ExchangeRate.objects.count(),
        ),
    ]


BAD_FILES = {
    # case: (file name (None: the site's own), content (None: the site's own), message)
    "empty": (None, b"", r"empty"),
    "11 MB": (None, "11MB", r"11\.0 MB; the limit is (10|1) MB"),
    "wrong kind": ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", r"not accepted"),
    "script as pdf": ("report.pdf", SCRIPT_SVG, r"not really a \.pdf file|Line 1"),
    "page as csv": (
        "data.csv",
        b"<html><script>alert(1)</script></html>\n",
        r"not really a \.csv|Line 1",
    ),
}


def content_of(site: Site, content) -> bytes:
    if content == "11MB":
        return site.good[1] + b"x" * (11 * MiB - len(site.good[1]))
    return site.good[1] if content is None else content


def post(site: Site, request, filename: bytes, content: bytes):
    user = request.getfixturevalue(site.user)
    body, content_type = multipart(site.fields, site.file_field, filename, content)
    if site.api:
        client = APIClient()
        client.force_authenticate(user)
    else:
        client = Client()
        client.force_login(user)
    with time_machine.travel(FILING_DAY, tick=False):
        return client.generic("POST", site.url(), body, content_type=content_type)


def text_of(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("case", BAD_FILES)
@pytest.mark.parametrize("index", range(6), ids=lambda i: str(i))
def test_a_bad_file_is_refused_with_a_message_and_nothing_kept(
    request, approved_request, vendor_admin, manager, finance, a_admin, index, case
):
    site = sites(approved_request)[index]
    name, content, message = BAD_FILES[case]
    if site.name.endswith("import") and case == "script as pdf":
        name = "report.csv"  # a page renamed to the kind this path takes
    if site.name == "portal directory logo" and case in ("script as pdf", "page as csv"):
        name, message = "logo.png", r"not really a \.png file"  # renamed to a picture
    response = post(site, request, (name or site.good[0]).encode(), content_of(site, content))
    assert 400 <= response.status_code < 500, (site.name, response.status_code)
    assert re.search(message, text_of(response), re.IGNORECASE), (site.name, case)
    assert site.kept() == 0
    assert stored("mdf") == [] and stored("content") == [] and stored("directory") == []


@pytest.mark.parametrize(
    "filename",
    [b"../../etc/passwd.%s", b"..\\..\\windows\\win.%s", b"in\x00voice.%s", b"\x00.%s", b".."],
    ids=["traversal", "windows-traversal", "nul", "only-nul", "dot-dot"],
)
@pytest.mark.parametrize("index", range(6), ids=lambda i: str(i))
def test_a_hostile_file_name_never_escapes_its_folder(
    request, approved_request, vendor_admin, manager, finance, a_admin, index, filename
):
    """Django keeps the last part of a name and drops control characters; what is left is
    refused with a message or stored inside the object's folder under a clean name."""
    site = sites(approved_request)[index]
    extension = site.good[0].rsplit(".", 1)[1].encode()
    name = filename % extension if b"%s" in filename else filename
    response = post(site, request, name, site.good[1])
    assert response.status_code < 500
    if response.status_code >= 400:
        assert site.kept() == 0
        assert re.search(r"empty|not accepted|Attach (at least one|a file)", text_of(response))
    for path in stored("mdf") + stored("content") + stored("directory"):
        folder, _, kept_name = path.rpartition("/")
        assert re.fullmatch(r"(mdf/proofs/\d+/\d+|content/\d+|directory/logos/\d+)", folder), path
        assert re.fullmatch(r"[\w-][\w.-]*", kept_name), path
        assert ".." not in kept_name and "passwd" not in folder


@pytest.mark.parametrize("index", range(6), ids=lambda i: str(i))
def test_a_good_file_is_accepted_on_every_path(
    request, approved_request, vendor_admin, manager, finance, a_admin, index
):
    site = sites(approved_request)[index]
    response = post(site, request, site.good[0].encode(), site.good[1])
    assert response.status_code in (201, 302), (site.name, text_of(response)[:500])
    assert site.kept() >= 1
