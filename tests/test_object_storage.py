"""Uploaded files in object storage (MEDIA_STORAGE=s3), against a real S3 endpoint: moto's
S3 server, started for this module on a free port of 127.0.0.1.

- Every environment (local, production, test) keeps uploads where MEDIA_STORAGE says, in a
  private bucket with short-lived signed addresses and no overwriting.
- An MDF proof filed in the portal or through the API, and a content library file
  uploaded in the admin, land in the bucket under the configured prefix, readable by no
  one without credentials, and nothing is written to the local media folder.
- The scoped views hand them back: the same bytes, as an attachment with the site's
  headers, to whoever may see them, and 404 to anyone else; with MEDIA_SIGNED_URLS, a
  redirect to an address signed for five minutes.
- Two web processes with media folders of their own: a proof filed through one and a
  library file uploaded in the admin download through the other.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from enablement.models import ContentItem
from incentives.models import MdfProof
from incentives.services.mdf import mdf_request_approve
from partners.models import ApiToken, Program
from tests.factories import MdfFundFactory, MdfRequestFactory, default_tier
from tests.test_incentives import PDF
from tests.throwaway import Site, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "prm-media"
PREFIX = "media"
PASSWORD = "Correct-Horse-9"
FILING_DAY = datetime(2026, 11, 26, 9, tzinfo=UTC)
CSV = b"name,company\nAda Lovelace,Analytical Engines\n"


# ---------------------------------------------------------------- the S3 server


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a process of its own, with the bucket made; stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            return True
        try:
            return requests.get(endpoint, timeout=5).status_code < 500
        except requests.RequestException:  # not listening yet, or slow to answer its first
            return False

    try:
        wait_until(answers, timeout=60, what="moto's S3 server answering")
    except TimeoutError:
        process.kill()
        pytest.skip("moto's S3 server did not answer within 60 s")
    if process.poll() is not None:
        pytest.skip(f"moto's S3 server could not start: {process.stderr.read().decode()[-500:]}")
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_env(endpoint: str) -> dict[str, str]:
    """What a deployment sets to keep its uploads in the bucket."""
    return {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LOCATION": PREFIX,
    }


def settings_of(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``STORAGES`` and ``MEDIA_SIGNED_URLS`` as the settings ``module`` reads them from
    ``env``, in a process of its own (JSON on stdout)."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MEDIA_", "TEST_")) and k != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE=f"prm.settings.{module}",
        SECRET_KEY="a-production-key-for-this-test-only-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="prm.example",
        **env,
    )
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps({'storages': settings.STORAGES, "
        "'signed': settings.MEDIA_SIGNED_URLS}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def s3_storage(s3_endpoint) -> dict:
    """The default storage as the test settings build it from a deployment's variables."""
    done = settings_of("test", s3_env(s3_endpoint))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["storages"]["default"]


@pytest.fixture
def bucket(s3_endpoint, s3_storage, settings, tmp_path):
    """The site's uploads in the bucket (emptied first); the local media folder is an empty
    temporary folder that must stay empty."""
    client = s3_client(s3_endpoint)
    for key in keys(client):
        client.delete_object(Bucket=BUCKET, Key=key)
    settings.MEDIA_STORAGE = "s3"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Changing STORAGES drops the storages Django has built (django.test.signals).
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage}
    from storages.backends.s3 import S3Storage

    assert isinstance(default_storage, S3Storage)
    yield client
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).iterdir())


def keys(client, prefix: str = "") -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


def body_of(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


# ---------------------------------------------------------------- settings


EXPECTED_OPTIONS = {
    "bucket_name": BUCKET,
    "region_name": "us-east-1",
    "location": PREFIX,
    "default_acl": None,
    "querystring_auth": True,
    "querystring_expire": 300,
    "file_overwrite": False,
    "access_key": "testing",
    "secret_key": "testing",
}


@pytest.mark.parametrize("module", ["local", "production", "test"])
def test_every_environment_keeps_uploads_where_media_storage_says(module, s3_endpoint):
    done = settings_of(module, s3_env(s3_endpoint))
    assert done.returncode == 0, done.stderr
    default = json.loads(done.stdout)["storages"]["default"]
    assert default["BACKEND"] == "prm.media.MediaStorage"
    assert (
        default["OPTIONS"].items()
        >= {
            **EXPECTED_OPTIONS,
            "endpoint_url": s3_endpoint,
        }.items()
    )

    done = settings_of(module, {})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    expected = "InMemoryStorage" if module == "test" else "FileSystemStorage"
    assert found["storages"]["default"]["BACKEND"].endswith(expected)
    assert found["signed"] is False


def test_credentials_left_out_are_found_by_boto3_and_a_wrong_switch_is_refused():
    done = settings_of("production", {"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": BUCKET})
    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)["storages"]["default"]["OPTIONS"]
    # None: boto3's own chain (a pod or instance role, a profile) supplies them.
    assert options["access_key"] is None and options["secret_key"] is None
    assert options["endpoint_url"] is None and options["location"] == ""

    done = settings_of("production", {"MEDIA_STORAGE": "s3"})
    assert done.returncode != 0 and "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME" in done.stderr
    done = settings_of("production", {"MEDIA_STORAGE": "S3 please"})
    assert done.returncode != 0 and "MEDIA_STORAGE is filesystem or s3" in done.stderr


def test_signed_addresses_are_asked_for_and_only_with_object_storage(s3_endpoint):
    done = settings_of("production", {**s3_env(s3_endpoint), "MEDIA_SIGNED_URLS": "true"})
    assert json.loads(done.stdout)["signed"] is True
    done = settings_of("production", {"MEDIA_SIGNED_URLS": "true"})
    assert json.loads(done.stdout)["signed"] is False


# ---------------------------------------------------------------- MDF proofs in the bucket


@pytest.fixture
def approved_request(partner_a, manager):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC)):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        mdf_request_approve(request=request, by=manager)
    return request


def file_claim(face: str, user, mdf_request, files: list[SimpleUploadedFile]):
    body = {"actual_cost": "100", "leads_generated": "3", "files": files}
    with time_machine.travel(FILING_DAY, tick=False):
        if face == "api":
            client = APIClient()
            client.force_authenticate(user)
            response = client.post(
                "/api/v1/mdf/claims/", {**body, "request": mdf_request.pk}, format="multipart"
            )
            assert response.status_code == 201, response.content
        else:
            client = Client()
            client.force_login(user)
            response = client.post(f"/portal/mdf/requests/{mdf_request.pk}/claim/", body)
            assert response.status_code == 302, response.content
    return list(MdfProof.objects.filter(claim__request=mdf_request))


def proof_key(proof: MdfProof) -> str:
    return f"{PREFIX}/{proof.file.name}"


@pytest.mark.django_db
@pytest.mark.parametrize("face", ["portal", "api"])
def test_a_proof_lands_in_the_bucket_where_no_one_reads_it_without_credentials(
    face, bucket, s3_endpoint, a_admin, partner_a, approved_request
):
    (proof,) = file_claim(face, a_admin, approved_request, [SimpleUploadedFile("invoice.pdf", PDF)])
    claim = proof.claim
    assert keys(bucket) == [f"{PREFIX}/mdf/proofs/{partner_a.pk}/{claim.pk}/invoice.pdf"]
    assert proof_key(proof) == keys(bucket)[0]
    assert body_of(bucket, proof_key(proof)) == PDF
    head = bucket.head_object(Bucket=BUCKET, Key=proof_key(proof))
    assert head["ContentType"] == "application/pdf"
    assert head["ContentDisposition"] == "attachment"
    # Private: the owner's grant only, and a request without a signature is refused.
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=proof_key(proof))["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert all(grant["Grantee"]["Type"] == "CanonicalUser" for grant in grants)
    assert requests.get(f"{s3_endpoint}/{BUCKET}/{proof_key(proof)}", timeout=10).status_code == 403


@pytest.mark.django_db
def test_two_proofs_of_one_name_are_both_kept(bucket, a_admin, approved_request):
    first, second = file_claim(
        "portal",
        a_admin,
        approved_request,
        [SimpleUploadedFile("invoice.pdf", PDF), SimpleUploadedFile("invoice.pdf", PDF + b"2")],
    )
    assert first.file.name != second.file.name
    assert len(keys(bucket)) == 2
    assert body_of(bucket, proof_key(first)) == PDF
    assert body_of(bucket, proof_key(second)) == PDF + b"2"


@pytest.mark.django_db
def test_the_proof_downloads_to_those_who_see_it_and_is_a_404_to_another_partner(
    bucket, a_admin, a_rep, b_admin, manager, other_manager, approved_request
):
    (proof,) = file_claim(
        "api", a_admin, approved_request, [SimpleUploadedFile("attendees.csv", CSV)]
    )
    url = f"/portal/mdf/proofs/{proof.pk}/"
    for user in (a_admin, a_rep, manager):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user
        assert b"".join(response.streaming_content) == CSV
        assert response["Content-Disposition"] == 'attachment; filename="attendees.csv"'
        assert response["Content-Type"] == "text/csv"
        assert response["Content-Length"] == str(len(CSV))
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    for user in (b_admin, other_manager):
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 404, user


@pytest.mark.django_db
def test_with_signed_urls_the_scoped_view_redirects_to_an_address_good_for_five_minutes(
    bucket, settings, s3_endpoint, a_admin, b_admin, approved_request
):
    settings.MEDIA_SIGNED_URLS = True
    (proof,) = file_claim(
        "portal", a_admin, approved_request, [SimpleUploadedFile("attendees.csv", CSV)]
    )
    url = f"/portal/mdf/proofs/{proof.pk}/"
    client = Client()
    client.force_login(b_admin)
    assert client.get(url).status_code == 404

    client.force_login(a_admin)
    response = client.get(url)
    assert response.status_code == 302
    address = response["Location"]
    parts = urlsplit(address)
    assert f"{parts.scheme}://{parts.netloc}" == s3_endpoint
    assert parts.path == f"/{BUCKET}/{proof_key(proof)}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    assert "no-store" in response["Cache-Control"]

    fetched = requests.get(address, timeout=10)
    assert fetched.status_code == 200 and fetched.content == CSV
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="attendees.csv"'
    assert fetched.headers["Content-Type"] == "text/csv"
    # The address without its signature opens nothing.
    assert requests.get(address.split("?")[0], timeout=10).status_code == 403


# ---------------------------------------------------------------- the content library


def upload_to_library(admin_user, *, title: str, min_tier_rank: int = 0) -> ContentItem:
    """The admin's add form, as a channel team member fills it in."""
    client = Client()
    client.force_login(admin_user)
    now = timezone.localtime()
    response = client.post(
        reverse("admin:enablement_contentitem_add"),
        {
            "program": Program.objects.get(is_default=True).pk,
            "title": title,
            "kind": "collateral",
            "min_tier_rank": min_tier_rank,
            "published": "on",
            "created_at_0": now.date().isoformat(),
            "created_at_1": now.time().strftime("%H:%M:%S"),
            "file": SimpleUploadedFile("battle-card.pdf", PDF),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return ContentItem.objects.get(title=title)


@pytest.mark.django_db
def test_a_library_file_lands_in_the_bucket_and_opens_for_the_tiers_it_is_for(
    bucket, s3_endpoint, vendor_admin, a_admin, b_admin
):
    gold = default_tier("gold").rank
    assert default_tier("silver").rank < gold
    item = upload_to_library(vendor_admin, title="Gold battle card", min_tier_rank=gold)
    program = Program.objects.get(is_default=True)
    assert keys(bucket) == [f"{PREFIX}/content/{program.pk}/battle-card.pdf"]
    assert requests.get(f"{s3_endpoint}/{BUCKET}/{keys(bucket)[0]}", timeout=10).status_code == 403

    url = reverse("portal-content-open", args=[item.pk])
    client = Client()
    client.force_login(b_admin)  # gold
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="battle-card.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"

    client.force_login(a_admin)  # silver: told so, and no file
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("portal-content")

    ContentItem.objects.filter(pk=item.pk).update(published=False)
    client.force_login(b_admin)
    assert client.get(url).status_code == 404


# ---------------------------------------------------------------- two web processes


def suite_database_url() -> str:
    """The suite's test database, as a URL for another process."""
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host, port = db["HOST"] or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def with_site_password(user):
    """The web processes check passwords with the default hashers, not the suite's fast one."""
    user.password = PBKDF2PasswordHasher().encode(
        PASSWORD, f"{user.username}-salt", iterations=1000
    )
    user.save(update_fields=["password"])
    return user


def signed_in(site: Site, username: str) -> requests.Session:
    """A browser signed in through the portal's login form of ``site``."""
    import re

    browser = requests.Session()
    page = browser.get(site.base + "/auth/login/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(
        site.base + "/auth/login/",
        data={"csrfmiddlewaretoken": token, "login": username, "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 200 and "/auth/login/" not in response.url, response.url
    return browser


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_a_file_stored_through_one_web_process_downloads_through_another(
    bucket, s3_endpoint, tmp_path, manager, vendor_admin, a_admin, b_admin, partner_a
):
    with_site_password(a_admin)
    with_site_password(b_admin)
    token = ApiToken.objects.create(user=a_admin)[1]
    # An activity that ended yesterday: claimable today, in processes whose clock is real.
    today = timezone.localdate()
    fund = MdfFundFactory(partner=partner_a, fiscal_year=(today - timedelta(days=1)).year)
    mdf_request = MdfRequestFactory(fund=fund, starts_on=today - timedelta(days=1))
    mdf_request_approve(request=mdf_request, by=manager)
    item = upload_to_library(vendor_admin, title="Battle card")  # this process, the bucket

    media = {name: tmp_path / f"media-{name}" for name in ("one", "two")}
    common = {**s3_env(s3_endpoint), "DATABASE_URL": suite_database_url()}
    one = Site({**common, "MEDIA_ROOT": str(media["one"])}, workers=1, threads=2)
    try:
        two = Site({**common, "MEDIA_ROOT": str(media["two"])}, workers=1, threads=2)
    except BaseException:
        one.stop()
        raise
    try:
        proof_bytes = PDF + os.urandom(64 * 1024)
        filed = requests.post(
            one.base + "/api/v1/mdf/claims/",
            headers={"Authorization": f"Token {token}"},
            data={"request": mdf_request.pk, "actual_cost": "100", "leads_generated": "3"},
            files=[("files", ("invoice.pdf", proof_bytes, "application/pdf"))],
            timeout=60,
        )
        assert filed.status_code == 201, filed.text
        (proof,) = filed.json()["proofs"]
        key = proof_key(MdfProof.objects.get(pk=proof["id"]))
        assert body_of(bucket, key) == proof_bytes

        alice = signed_in(two, a_admin.username)
        response = alice.get(f"{two.base}/portal/mdf/proofs/{proof['id']}/", timeout=60)
        assert response.status_code == 200
        assert response.content == proof_bytes
        assert response.headers["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
        response = alice.get(f"{two.base}/portal/content/{item.pk}/open/", timeout=60)
        assert response.status_code == 200 and response.content == PDF

        bob = signed_in(one, b_admin.username)
        response = bob.get(f"{one.base}/portal/mdf/proofs/{proof['id']}/", timeout=60)
        assert response.status_code == 404
    finally:
        one.stop()
        two.stop()
        connection.close()
    # Neither process wrote an upload to its own folder.
    for folder in media.values():
        assert not folder.exists() or not any(folder.rglob("*.*")), folder
