"""Anonymous forms limited per address in the database, the address read behind our proxies,
and readiness reporting each server the site uses."""

from datetime import timedelta

import pytest
import time_machine
from django.test import RequestFactory
from django.utils import timezone

from enablement.models import PartnerApplication
from prm.models import FormPost
from prm.throttles import client_ip
from tests.test_auth import UNREACHABLE_REDIS
from tests.test_relationship import APPLICANT

pytestmark = pytest.mark.django_db


def application(n: int) -> dict:
    return {
        **APPLICANT,
        "company_name": f"Applicant {n}",
        "domain": f"applicant{n}.example",
        "contact_email": f"boss@applicant{n}.example",
    }


def test_the_application_form_takes_ten_an_hour_from_one_address(client, program_data):
    for n in range(10):
        response = client.post("/apply/", application(n), REMOTE_ADDR="198.51.100.4")
        assert response.status_code == 200, n
    refused = client.post("/apply/", application(10), REMOTE_ADDR="198.51.100.4")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "Too many submissions" in refused.content.decode()
    assert PartnerApplication.objects.count() == 10
    # Another address is not held back; an hour later this one is not either.
    assert client.post("/apply/", application(11), REMOTE_ADDR="198.51.100.5").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        again = client.post("/apply/", application(12), REMOTE_ADDR="198.51.100.4")
    assert again.status_code == 200


def test_refused_or_invalid_applications_do_not_count(client, program_data):
    for _ in range(12):
        bad = client.post("/apply/", {**APPLICANT, "employees": "many"}, REMOTE_ADDR="192.0.2.1")
        assert bad.status_code == 400
    assert client.post("/apply/", application(1), REMOTE_ADDR="192.0.2.1").status_code == 200


def test_the_address_is_kept_only_as_a_keyed_hash(client, program_data):
    client.post("/apply/", application(1), REMOTE_ADDR="203.0.113.9")
    post = FormPost.objects.get()
    assert post.kind == "apply"
    assert "203.0.113.9" not in post.address_hash and len(post.address_hash) == 64


def test_the_limit_holds_while_the_cache_is_unreachable(client, program_data, settings):
    settings.CACHES = UNREACHABLE_REDIS
    for n in range(10):
        client.post("/apply/", application(n), REMOTE_ADDR="198.51.100.4")
    refused = client.post("/apply/", application(10), REMOTE_ADDR="198.51.100.4")
    assert refused.status_code == 429


def test_password_reset_requests_are_limited_per_address(
    client, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            response = client.post(
                "/auth/password/reset/",
                {"email": f"victim{n}@example.com"},
                REMOTE_ADDR="198.51.100.7",
            )
            assert response.status_code == 302
        refused = client.post(
            "/auth/password/reset/", {"email": "victim@example.com"}, REMOTE_ADDR="198.51.100.7"
        )
    assert refused.status_code == 429 and refused["Retry-After"]
    assert queued_mail() == 10
    assert len(mailoutbox) == 10


def test_the_address_is_read_behind_a_known_number_of_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20"
    )
    assert client_ip(request) == "10.1.1.1"  # no proxy configured: the header is ignored
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote 6.6.6.6 itself; our load balancer appended the address it saw.
    assert client_ip(request) == "198.51.100.20"


# ---------------------------------------------------------------- readiness


def test_readiness_reports_each_server(client, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "local",
        "broker": "local",
    }


def test_redis_down_is_degraded_not_unready(client, settings):
    settings.CACHES = UNREACHABLE_REDIS
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/1"
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "cache": "down",
        "broker": "down",
    }
