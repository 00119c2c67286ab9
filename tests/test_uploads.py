"""Every face that takes a file (portal, API, admin) refuses a bad one with a 4xx and a
message, never a 500, and stores nothing; a large accepted file is streamed to storage,
never copied in memory."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from incentives import services
from incentives.models import MdfClaim, MdfProof
from tests.factories import MdfFundFactory, MdfRequestFactory
from tests.test_incentives import PDF

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
FILING_DAY = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.fixture
def approved_request(partner_a, manager):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC), tick=False):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        services.mdf_request_approve(request=request, by=manager)
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
    for path in stored("mdf") + stored("content"):
        default_storage.delete(path)
    yield
    for path in stored("mdf") + stored("content"):
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
