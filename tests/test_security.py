"""Security guarantees: headers and the Content-Security-Policy, CSRF, login lockout (portal and
admin), uploads refused by type and size with nothing stored, safe downloads, health checks,
no secrets in the repository. (`check --deploy` is in test_project.py.)"""

import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from incentives.models import MdfClaim, MdfProof
from incentives.services.mdf import mdf_request_approve
from tests.factories import MdfFundFactory, MdfRequestFactory
from tests.test_incentives import PDF

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PASSWORD = "Correct-Horse-9"


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part
    }


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("path", ["/auth/login/", "/apply/", "/healthz/", "/api/docs/"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    policy = csp_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_each_request_gets_its_own_style_nonce_which_the_page_uses(client, a_admin):
    client.force_login(a_admin)
    first, second = client.get("/portal/qbrs/"), client.get("/portal/qbrs/")
    nonces = [
        re.search(r"'nonce-([^']+)'", r["Content-Security-Policy"]).group(1)
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]


def test_portal_pages_carry_no_inline_script_handler_or_style_attribute(client, a_admin):
    client.force_login(a_admin)
    for path in ("/portal/home/", "/portal/deals/", "/portal/deals/new/", "/portal/earnings/"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert " style=" not in html, path
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        for tag in re.findall(r"<style\b[^>]*>", html):
            assert f'nonce="{nonce}"' in tag, (path, tag)
    # htmx keeps to the policy too: no injected indicator style, no eval.
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def template_files():
    return sorted(TEMPLATES.rglob("*.html"))


def test_templates_keep_to_the_content_security_policy():
    """No inline script, event handler or style attribute in any template; <style> blocks
    carry the request's nonce. (The browser tests fail on any violation report too.)"""
    problems = []
    for path in template_files():
        text = path.read_text()
        name = path.relative_to(TEMPLATES)
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "application/json" not in tag:
                problems.append(f"{name}: inline script {tag}")
        if re.search(r"<[a-z][^>]*\son[a-z]+\s*=", text):
            problems.append(f"{name}: inline event handler")
        if re.search(r"<[a-z][^>]*\sstyle\s*=", text):
            problems.append(f"{name}: style attribute")
        for tag in re.findall(r"<style\b[^>]*>", text):
            if "csp_nonce" not in tag:
                problems.append(f"{name}: <style> without the nonce")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- CSRF


def test_every_post_form_carries_a_csrf_token():
    missing = [
        str(path.relative_to(TEMPLATES))
        for path in template_files()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", path.read_text(), re.S | re.I)
        if re.search(r'method="post"', form, re.I) and "csrf_token" not in form
    ]
    assert not missing


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/auth/login/", {"login": "andy", "password": PASSWORD}),
        ("/portal/deals/new/", {"customer_name": "Acme", "customer_domain": "acme.example"}),
        ("/i18n/setlang/", {"language": "zh-hans"}),
        ("/auth/logout/", {}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused(a_rep, path, data):
    client = Client(enforce_csrf_checks=True)
    if path != "/auth/login/":
        client.force_login(a_rep)
    response = client.post(path, data)
    assert response.status_code == 403


def test_a_post_with_the_csrf_token_goes_through(a_rep):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/auth/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    response = client.post(
        "/auth/login/",
        {"login": "andy", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
    )
    assert response.status_code == 302


# ---------------------------------------------------------------- login lockout


def test_the_fifth_failed_login_locks_out_even_from_other_addresses(client, a_rep):
    for i in range(4):
        page = client.post(
            reverse("account_login"),
            {"login": "andy", "password": f"wrong{i}"},
            REMOTE_ADDR=f"10.0.0.{i + 1}",
        )
        assert page.status_code == 200
    fifth = client.post(
        reverse("account_login"), {"login": "andy", "password": "wrong4"}, REMOTE_ADDR="10.0.0.5"
    )
    assert fifth.status_code == 429
    locked = client.post(
        reverse("account_login"),
        {"login": "andy", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.99",
    )
    assert locked.status_code == 429  # not signed in, even with the right password
    assert locked["Retry-After"]
    assert "Too many failed sign-in attempts. Try again later." in locked.content.decode()
    assert client.get("/portal/home/").status_code == 302


def test_the_admin_login_goes_through_the_rate_limited_sign_in(client, manager):
    shown = client.get("/admin/login/?next=/admin/")
    assert shown.status_code == 302
    assert shown["Location"] == "/auth/login/?next=%2Fadmin%2F"
    # Posting credentials to the admin's own form signs nobody in.
    posted = client.post("/admin/login/", {"username": manager.username, "password": PASSWORD})
    assert posted.status_code == 302 and posted["Location"].startswith("/auth/login/")
    assert client.get("/admin/").status_code == 302
    # Failures through the one sign-in form lock out staff too.
    for i in range(5):
        client.post(reverse("account_login"), {"login": manager.username, "password": f"x{i}"})
    locked = client.post(
        reverse("account_login"), {"login": manager.username, "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()


# ---------------------------------------------------------------- uploads and downloads


@pytest.fixture
def approved_request(partner_a, manager):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=UTC), tick=False):
        fund = MdfFundFactory(partner=partner_a, fiscal_year=2026)
        request = MdfRequestFactory(fund=fund, starts_on=date(2026, 11, 23))
        mdf_request_approve(request=request, by=manager)
    return request


def stored_files() -> list[str]:
    try:
        _, files = default_storage.listdir("mdf")
    except FileNotFoundError:
        return []
    return files


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 an executable"), "not really a .pdf"),
        (SimpleUploadedFile("page.html", b"<script>alert(1)</script>"), "not accepted"),
        (SimpleUploadedFile("big.pdf", PDF + b"x" * 4096), "the limit is"),
    ],
)
def test_a_bad_proof_in_the_portal_is_refused_with_nothing_stored(
    client, a_admin, approved_request, settings, upload, message
):
    settings.MDF_PROOF_MAX_BYTES = 2048
    client.force_login(a_admin)
    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        response = client.post(
            f"/portal/mdf/requests/{approved_request.pk}/claim/",
            {"actual_cost": "100", "leads_generated": "3", "files": [upload]},
        )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MdfClaim.objects.exists() and not MdfProof.objects.exists()
    assert stored_files() == []


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client, a_admin, approved_request, settings, api
):
    settings.MAX_REQUEST_BYTES = 4096
    client.force_login(a_admin)
    big = SimpleUploadedFile("deck.pdf", PDF + b"x" * 8192)
    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        response = client.post(
            f"/portal/mdf/requests/{approved_request.pk}/claim/",
            {"actual_cost": "100", "leads_generated": "3", "files": [big]},
        )
        assert response.status_code == 413
        assert "nothing was received or saved" in response.content.decode()
        assert not MdfClaim.objects.exists() and stored_files() == []

        response = api(a_admin).post(
            "/api/v1/mdf/claims/",
            {
                "request": approved_request.pk,
                "actual_cost": "100",
                "leads_generated": "3",
                "files": [SimpleUploadedFile("deck.pdf", PDF + b"x" * 8192)],
            },
            format="multipart",
        )
        assert response.status_code == 413
        assert response.json()["code"] == "too_large"

        small = SimpleUploadedFile("deck.pdf", PDF)
        response = client.post(
            f"/portal/mdf/requests/{approved_request.pk}/claim/",
            {"actual_cost": "100", "leads_generated": "3", "files": [small]},
        )
    assert response.status_code == 302 and MdfClaim.objects.count() == 1


def test_a_proof_downloads_as_an_attachment_that_no_browser_runs(client, a_admin, approved_request):
    client.force_login(a_admin)
    with time_machine.travel(datetime(2026, 11, 26, 9, tzinfo=UTC), tick=False):
        client.post(
            f"/portal/mdf/requests/{approved_request.pk}/claim/",
            {
                "actual_cost": "100",
                "leads_generated": "3",
                "files": [SimpleUploadedFile("attendees.csv", b"name\n<script>x</script>\n")],
            },
        )
    proof = MdfProof.objects.get()
    response = client.get(f"/portal/mdf/proofs/{proof.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="attendees.csv"'
    assert response["Content-Type"] == "text/csv"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert csp_of(response) == {"default-src": ["'none'"], "sandbox": []}

    # The row outlives its file (a restore without the media): not found, not a 500.
    proof.file.storage.delete(proof.file.name)
    assert client.get(f"/portal/mdf/proofs/{proof.pk}/").status_code == 404


# ---------------------------------------------------------------- health checks


def test_liveness_is_a_constant_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readiness_asks_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert set(response.json()) == {"status", "database", "cache", "broker"}


def test_pages_link_the_icon_and_favicon_ico_leads_to_it(client, django_assert_num_queries):
    page = client.get("/auth/login/").content.decode()
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', page)
    with django_assert_num_queries(0):
        response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200  # served as a static file


# ---------------------------------------------------------------- secrets


SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"(?:ghp|gho|ghs)_[A-Za-z0-9]{36}"),
    re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"sk_live_[A-Za-z0-9]{16,}"),
]


def test_no_secrets_are_committed():
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [name for name in listed.stdout.split("\0") if name]
    assert ".env" not in files
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix in {".png", ".woff", ".woff2", ".ico", ".mo", ".pdf"} or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        found += [f"{name}: {p.pattern}" for p in SECRET_PATTERNS if p.search(text)]
    assert not found, found
